package rules

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
)

// authorLanguage reports whether the deterministic author has Dockerfile
// rules for a language.
func authorLanguage(lang string) bool {
	for _, l := range dockerLanguages {
		if l == lang {
			return true
		}
	}
	return false
}

// authorable returns the part of the model the author can render: services
// in languages it has no rules for are left out, and so are backing kinds
// it cannot run. Managed cloud services stay in the model (their variables
// are left for a person to set) but nothing is generated for them. Each
// omission becomes a plan note; the model itself is not changed.
func authorable(m *analyze.SystemModel) (*analyze.SystemModel, []string) {
	var notes []string
	out := *m
	out.Services = nil
	for _, s := range m.Services {
		if !authorLanguage(s.Language) {
			notes = append(notes, fmt.Sprintf("%s (%s) is not containerized: kubewright has no Dockerfile rules for %s yet; write %s/Dockerfile and its manifests by hand",
				s.Name, s.Path, s.Language, s.Path))
			continue
		}
		var backing []analyze.Backing
		for _, b := range s.Backing {
			switch {
			case b.External:
				notes = append(notes, externalNote(s, b))
				backing = append(backing, b)
			case !runnableKind(b.Kind):
				notes = append(notes, fmt.Sprintf("%s uses %s, which kubewright does not run yet: nothing is generated for it; point %s at an existing instance", s.Name, b.Kind, orDefault(b.EnvVar, "its connection setting")))
			default:
				backing = append(backing, b)
			}
		}
		s.Backing = backing
		out.Services = append(out.Services, s)
	}
	return &out, notes
}

// externalNote tells a person what a managed cloud service needs: it is
// left where it is, and the service needs its endpoint and an identity.
func externalNote(s analyze.Service, b analyze.Backing) string {
	name := orDefault(b.Name, b.Kind)
	identity := "credentials from a Secret"
	switch {
	case strings.HasPrefix(name, "AWS"):
		identity = "an IAM role for its service account (IRSA or EKS Pod Identity)"
	case strings.HasPrefix(name, "Google"):
		identity = "a Google service account through Workload Identity"
	case strings.HasPrefix(name, "Azure"):
		identity = "a managed identity through Azure Workload Identity"
	}
	set := ""
	if b.EnvVar != "" {
		set = ", and set " + b.EnvVar
	}
	return fmt.Sprintf("%s uses %s (%s): it stays a managed service, nothing is generated for it; give %s %s%s",
		s.Name, name, b.Evidence, s.Name, identity, set)
}

func runnableKind(kind string) bool {
	_, ok := storeSpecs[kind]
	return ok || kind == analyze.BackingMySQL
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
