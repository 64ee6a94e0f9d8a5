package analyze

// DotnetDetector finds services in this ecosystem.
type DotnetDetector struct{}

func (DotnetDetector) Name() string { return "dotnet" }

func (DotnetDetector) Detect(r *Repo) ([]Service, []ServiceError) { return nil, nil }
