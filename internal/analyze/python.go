package analyze

// PythonDetector finds services in this ecosystem.
type PythonDetector struct{}

func (PythonDetector) Name() string { return "python" }

func (PythonDetector) Detect(r *Repo) ([]Service, []ServiceError) { return nil, nil }
