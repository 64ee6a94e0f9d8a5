package analyze

// MavenDetector finds services in this ecosystem.
type MavenDetector struct{}

func (MavenDetector) Name() string { return "maven" }

func (MavenDetector) Detect(r *Repo) ([]Service, []ServiceError) { return nil, nil }
