package rules

import (
	"fmt"

	"github.com/kubewright/kubewright/internal/analyze"
)

// authorLanguages are the languages the deterministic author has
// Dockerfile rules for.
var authorLanguages = map[string]bool{
	analyze.LangGo: true, analyze.LangJava: true, analyze.LangKotlin: true, analyze.LangCSharp: true,
	analyze.LangJavaScript: true, analyze.LangTypeScript: true, analyze.LangPython: true,
}

// authorable returns the part of the model the author can render: services
// in languages it has no rules for yet (Rust, static sites, F#) are left
// out, and so are backing services it cannot run (managed cloud services,
// kinds without a store image such as SQL Server). Each omission becomes a
// plan note; the model itself is not changed.
func authorable(m *analyze.SystemModel) (*analyze.SystemModel, []string) {
	var notes []string
	out := *m
	out.Services = nil
	for _, s := range m.Services {
		if !authorLanguages[s.Language] {
			notes = append(notes, fmt.Sprintf("%s (%s) is not containerized: kubewright has no Dockerfile rules for %s yet; write %s/Dockerfile and its manifests by hand",
				s.Name, s.Path, s.Language, s.Path))
			continue
		}
		var backing []analyze.Backing
		for _, b := range s.Backing {
			switch {
			case b.External:
				notes = append(notes, fmt.Sprintf("%s uses %s, a managed cloud service: nothing is generated for it; give the service its endpoint and credentials", s.Name, b.Name))
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
