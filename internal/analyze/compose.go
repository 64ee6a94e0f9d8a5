package analyze

import (
	"path"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// composePort is the container port a compose file gives one of its
// services, and where.
type composePort struct {
	port   int
	source string
}

// composeService is the part of a compose service read for ports.
type composeService struct {
	Build any    `json:"build"`
	Image string `json:"image"`
	Ports []any  `json:"ports"`
}

// composePorts reads the compose files at the repository root and returns,
// per key ("path:<build context>", "image:<last image path element>",
// "name:<compose service name>"), the first container port published.
func composePorts(r *Repo) map[string]composePort {
	out := map[string]composePort{}
	for _, f := range r.Files() {
		if strings.Contains(f, "/") || !isComposeFile(f) {
			continue
		}
		b, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		var doc struct {
			Services map[string]composeService `json:"services"`
		}
		if yaml.Unmarshal(b, &doc) != nil {
			continue
		}
		for _, name := range goSortedKeys(doc.Services) {
			cs := doc.Services[name]
			p := 0
			for _, raw := range cs.Ports {
				if p = composeContainerPort(raw); p > 0 {
					break
				}
			}
			if p == 0 {
				continue
			}
			cp := composePort{p, f + " (services." + name + ".ports)"}
			keys := []string{"name:" + name}
			if img := cs.Image; img != "" && !strings.Contains(img, "$") {
				img, _, _ = strings.Cut(img, "@")
				last := path.Base(img)
				last, _, _ = strings.Cut(last, ":")
				keys = append(keys, "image:"+last)
			}
			ctx := ""
			switch b := cs.Build.(type) {
			case string:
				ctx = b
			case map[string]any:
				ctx, _ = b["context"].(string)
			}
			if ctx != "" && !strings.Contains(ctx, "$") {
				keys = append(keys, "path:"+Join(".", ctx))
			}
			for _, k := range keys {
				if _, dup := out[k]; !dup {
					out[k] = cp
				}
			}
		}
	}
	return out
}

// composeContainerPort reads the container side of a ports entry: "8080",
// "8081:8081", "127.0.0.1:80:8080/tcp", or the long form {target: 8080}.
func composeContainerPort(raw any) int {
	switch v := raw.(type) {
	case float64:
		return nodeValidPort(strconv.Itoa(int(v)))
	case string:
		v, _, _ = strings.Cut(v, "/")
		if i := strings.LastIndex(v, ":"); i >= 0 {
			v = v[i+1:]
		}
		if strings.Contains(v, "-") {
			return 0 // a range
		}
		return nodeValidPort(strings.TrimSpace(v))
	case map[string]any:
		if t, ok := v["target"].(float64); ok {
			return nodeValidPort(strconv.Itoa(int(t)))
		}
	}
	return 0
}

// portFromCompose replaces an assumed port with the container port the
// repository's compose file publishes for the service, found by its build
// context, its image name or its name.
func portFromCompose(s *Service, ports map[string]composePort) {
	if len(ports) == 0 || s.Framework == "worker" || s.Port == 0 || !strings.HasPrefix(s.PortSource, "default for") {
		return
	}
	for _, k := range []string{"path:" + s.Path, "image:" + s.Name, "name:" + s.Name, "name:" + path.Base(s.Path)} {
		if cp, ok := ports[k]; ok {
			s.Port, s.PortSource = cp.port, cp.source
			s.Assumptions = dropPortAssumptions(s.Assumptions)
			return
		}
	}
}
