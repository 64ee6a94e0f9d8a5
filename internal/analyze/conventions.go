package analyze

func detectConventions(r *Repo) Conventions { return Conventions{} }
