package analyze

// GradleDetector finds services in this ecosystem.
type GradleDetector struct{}

func (GradleDetector) Name() string { return "gradle" }

func (GradleDetector) Detect(r *Repo) ([]Service, []ServiceError) { return nil, nil }
