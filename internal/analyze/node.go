package analyze

// NodeDetector finds services in this ecosystem.
type NodeDetector struct{}

func (NodeDetector) Name() string { return "node" }

func (NodeDetector) Detect(r *Repo) ([]Service, []ServiceError) { return nil, nil }
