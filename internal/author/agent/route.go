package agent

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
)

// Agent names; each is a prompt in prompts/.
const (
	AgentAnalyzerRefine = "analyzer-refine"
	AgentContainer      = "container-architect"
	AgentDeployment     = "deployment-orchestrator"
	AgentGitops         = "gitops"
	AgentServiceCodegen = "service-codegen"
	AgentRepair         = "repair"
	AgentReview         = "review"
)

// newService matches requests for a service that does not exist yet:
// "add an inventory service", "create a new payments microservice".
var newService = regexp.MustCompile(`\b(?:add|create|scaffold|write|build|generate|introduce)\b(?:\s+(?:a|an|the|new|small|simple|go|golang))*\s+([a-z0-9][a-z0-9-]*)\s+(?:micro)?service\b`)

// otherLanguage names languages kubewright does not write services in.
var otherLanguage = regexp.MustCompile(`\b(?:in|using|with)\s+(python|java|kotlin|node(?:\.?js)?|typescript|javascript|c#|\.net|dotnet|rust|ruby|php|scala)\b`)

// Route picks the agent for an intent, deterministically, from its words.
// A new service goes to service-codegen (Go only); Dockerfile and image
// requests to container-architect; Flux, overlays, Istio and operators to
// gitops; corrections of what was detected to analyzer-refine; everything
// else about running the services to deployment-orchestrator. newName is
// the new service's name for service-codegen.
func Route(intent string, m *analyze.SystemModel) (agent, newName string, err error) {
	l := strings.ToLower(intent)
	if sm := newService.FindStringSubmatch(l); sm != nil && !existing(m, sm[1]) {
		if lang := otherLanguage.FindStringSubmatch(l); lang != nil {
			return "", "", fmt.Errorf("kubewright writes new services in Go only, and this request asks for %s: ask for a Go service, or write the service yourself and run containerize", lang[1])
		}
		return AgentServiceCodegen, strings.TrimSuffix(sm[1], "-service"), nil
	}
	switch {
	case mentions(l, "dockerfile", "docker", "distroless", "base image", "container image", "image size", "multi-stage", "alpine", "chainguard"):
		return AgentContainer, "", nil
	case mentions(l, "flux", "gitops", "overlay", "helmrelease", "helm", "kustomiz", "istio", "virtualservice", "external secret", "externalsecret", "image automation", "imagepolicy", "staging", "cloudnativepg", "cnpg", "operator"):
		return AgentGitops, "", nil
	case mentions(l, "detect", "analy", "listens on", "wrong port", "port is", "database is called", "database name", "health path", "misdetect"):
		return AgentAnalyzerRefine, "", nil
	}
	return AgentDeployment, "", nil
}

func mentions(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func existing(m *analyze.SystemModel, name string) bool {
	if m == nil {
		return false
	}
	for _, s := range m.Services {
		if s.Name == name || s.Name == name+"-service" || strings.TrimSuffix(s.Name, "-service") == name {
			return true
		}
	}
	return false
}
