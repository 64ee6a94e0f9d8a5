package analyze

// GoDetector finds services in this ecosystem.
type GoDetector struct{}

func (GoDetector) Name() string { return "go" }

func (GoDetector) Detect(r *Repo) ([]Service, []ServiceError) { return nil, nil }
