package analyze

import (
	"bytes"
	"path"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// detectConventions records what the repository already has: Dockerfiles,
// compose files, k8s/ and gitops/ manifests, and the namespaces, labels,
// registry and ingress class those manifests use.
func detectConventions(r *Repo) Conventions {
	var c Conventions
	registries := map[string]int{}
	labels := map[string]map[string]bool{}
	namespaces := map[string]bool{}
	for _, f := range r.Files() {
		base := path.Base(f)
		switch {
		case base == "Dockerfile" || strings.HasPrefix(base, "Dockerfile.") || strings.HasSuffix(base, ".Dockerfile"):
			c.Dockerfiles = append(c.Dockerfiles, f)
		case isComposeFile(base):
			c.ComposeFiles = append(c.ComposeFiles, f)
			if b, err := r.ReadFile(f); err == nil {
				for _, img := range composeImages(b) {
					if reg := registryOf(img); reg != "" {
						registries[reg]++
					}
				}
			}
		}
		if !isYAML(base) {
			continue
		}
		top, _, _ := strings.Cut(f, "/")
		switch top {
		case "k8s":
			c.K8sFiles = append(c.K8sFiles, f)
		case "gitops":
			c.GitopsFiles = append(c.GitopsFiles, f)
		default:
			continue
		}
		b, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		for _, doc := range docSeparator.Split(string(b), -1) {
			var obj manifest
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj.Kind == "" {
				continue
			}
			if obj.Kind == "Namespace" {
				namespaces[obj.Metadata.Name] = true
			} else if obj.Metadata.Namespace != "" && obj.Metadata.Namespace != "flux-system" {
				namespaces[obj.Metadata.Namespace] = true
			}
			switch obj.Kind {
			case "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob":
				// Workloads kubewright wrote itself are regenerated, not respected.
				if obj.Metadata.Labels["app.kubernetes.io/managed-by"] != "kubewright" {
					c.Workloads = append(c.Workloads, obj.Metadata.Namespace+"/"+obj.Metadata.Name)
				}
				for k, v := range obj.Metadata.Labels {
					if labels[k] == nil {
						labels[k] = map[string]bool{}
					}
					labels[k][v] = true
				}
				for _, ct := range obj.Spec.Template.Spec.Containers {
					if reg := registryOf(ct.Image); reg != "" {
						registries[reg]++
					}
				}
			case "Ingress":
				if obj.Spec.IngressClassName != "" {
					c.IngressClass = obj.Spec.IngressClassName
				} else if v := obj.Metadata.Annotations["kubernetes.io/ingress.class"]; v != "" && c.IngressClass == "" {
					c.IngressClass = v
				}
			}
		}
	}
	for ns := range namespaces {
		if ns != "" {
			c.Namespaces = append(c.Namespaces, ns)
		}
	}
	sort.Strings(c.Namespaces)
	sort.Strings(c.Workloads)
	// A convention label is one every workload carries with a single value
	// and that does not name an individual app.
	for k, vals := range labels {
		if len(vals) != 1 || k == "app" || k == "app.kubernetes.io/name" || k == "app.kubernetes.io/instance" || k == "app.kubernetes.io/version" {
			continue
		}
		for v := range vals {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels[k] = v
		}
	}
	best := 0
	for reg, n := range registries {
		if n > best || (n == best && reg < c.Registry) {
			best, c.Registry = n, reg
		}
	}
	return c
}

type manifest struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		IngressClassName string `json:"ingressClassName"`
		Template         struct {
			Spec struct {
				Containers []struct {
					Image string `json:"image"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

func isYAML(base string) bool {
	return strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")
}

func isComposeFile(base string) bool {
	return isYAML(base) && (strings.HasPrefix(base, "docker-compose") || strings.HasPrefix(base, "compose."))
}

func composeImages(b []byte) []string {
	var doc struct {
		Services map[string]struct {
			Image string `json:"image"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil
	}
	var out []string
	for _, s := range doc.Services {
		if s.Image != "" && !bytes.ContainsAny([]byte(s.Image), "${") {
			out = append(out, s.Image)
		}
	}
	sort.Strings(out)
	return out
}

// registryOf returns the registry and repository path prefix of an image
// reference that names a registry host ("registry.example.com/billing" for
// "registry.example.com/billing/payments:1.4.2"); "" for Docker Hub
// library images such as "postgres:16".
func registryOf(image string) string {
	image, _, _ = strings.Cut(image, "@")
	i := strings.LastIndex(image, "/")
	if i < 0 {
		return ""
	}
	repo := image[:i]
	host, _, _ := strings.Cut(repo, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return ""
	}
	return repo
}
