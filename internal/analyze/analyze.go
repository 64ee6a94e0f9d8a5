package analyze

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DefaultDetectors returns one detector per supported ecosystem, in the
// order their results are reported.
func DefaultDetectors() []Detector {
	return []Detector{GoDetector{}, MavenDetector{}, GradleDetector{}, DotnetDetector{}, NodeDetector{}, PythonDetector{}}
}

// Analyzer turns a repository into a SystemModel.
type Analyzer struct {
	detectors []Detector
}

// Option configures an Analyzer.
type Option func(*Analyzer)

// WithDetectors replaces the default detectors.
func WithDetectors(d ...Detector) Option { return func(a *Analyzer) { a.detectors = d } }

// New returns an Analyzer with the default detectors.
func New(opts ...Option) *Analyzer {
	a := &Analyzer{detectors: DefaultDetectors()}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Analyze walks the repository at root. A broken project becomes an entry
// in SystemModel.Errors; only an unreadable root is an error.
func (a *Analyzer) Analyze(ctx context.Context, root string) (*SystemModel, error) {
	repo, err := OpenRepo(root)
	if err != nil {
		return nil, err
	}
	return a.AnalyzeRepo(ctx, repo)
}

// AnalyzeRepo analyzes an already walked repository.
func (a *Analyzer) AnalyzeRepo(ctx context.Context, repo *Repo) (*SystemModel, error) {
	m := &SystemModel{Name: DNSLabel(filepath.Base(repo.Root())), Services: []Service{}}
	for _, d := range a.detectors {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("analyze %s: %w", repo.Root(), err)
		}
		svcs, errs := d.Detect(repo)
		m.Services = append(m.Services, svcs...)
		m.Errors = append(m.Errors, errs...)
	}
	m.Services = dropNested(m.Services)
	uniqueNames(m.Services)
	m.Conventions = detectConventions(repo)
	for i := range m.Services {
		s := &m.Services[i]
		if df := Join(s.Path, "Dockerfile"); repo.Exists(df) {
			s.Dockerfile = df
			if b, err := repo.ReadFile(df); err == nil {
				s.DockerfileUser = finalUser(b)
			}
		}
		if s.Port > 0 && s.Framework != "worker" {
			s.UserFacing = true
		}
	}
	linkCalls(m.Services)
	sort.SliceStable(m.Services, func(i, j int) bool { return m.Services[i].Name < m.Services[j].Name })
	sort.SliceStable(m.Errors, func(i, j int) bool {
		if m.Errors[i].File != m.Errors[j].File {
			return m.Errors[i].File < m.Errors[j].File
		}
		return m.Errors[i].Line < m.Errors[j].Line
	})
	return m, nil
}

// dropNested removes a service found by a second detector at the same path
// (a Go module with a package.json for its assets is still a Go service):
// the first detector wins.
func dropNested(svcs []Service) []Service {
	seen := map[string]bool{}
	var out []Service
	for _, s := range svcs {
		key := s.Path + "\x00" + s.Entrypoint
		if seen[s.Path] && !seen[key] && s.Detector != "go" {
			continue
		}
		seen[s.Path], seen[key] = true, true
		out = append(out, s)
	}
	return out
}

// uniqueNames makes service names unique by suffixing the detector, then a
// counter.
func uniqueNames(svcs []Service) {
	count := map[string]int{}
	for _, s := range svcs {
		count[s.Name]++
	}
	used := map[string]bool{}
	for i := range svcs {
		n := svcs[i].Name
		if count[n] > 1 || used[n] {
			cand := DNSLabel(strings.ReplaceAll(svcs[i].Path, "/", "-"))
			if cand == "" || used[cand] || cand == "app" {
				cand = n + "-" + svcs[i].Detector
			}
			for k := 2; used[cand]; k++ {
				cand = fmt.Sprintf("%s-%d", n, k)
			}
			n = cand
		}
		svcs[i].Name = n
		used[n] = true
	}
}

// linkCalls finds service-to-service calls from environment variables such
// as USER_SERVICE_URL or PRODUCT_SERVICE_HOST naming another service.
func linkCalls(svcs []Service) {
	byKey := map[string]string{}
	for _, s := range svcs {
		k := strings.ReplaceAll(strings.ToUpper(s.Name), "-", "_")
		byKey[k] = s.Name
		if base, ok := strings.CutSuffix(k, "_SERVICE"); ok {
			byKey[base] = s.Name
		}
	}
	for i := range svcs {
		set := map[string]bool{}
		for _, e := range svcs[i].Env {
			n := strings.ToUpper(e.Name)
			for _, suf := range []string{"_URL", "_URI", "_HOST", "_ADDR", "_ENDPOINT", "_BASE_URL", "__BASEURL"} {
				if base, ok := strings.CutSuffix(n, suf); ok {
					if target, ok := byKey[base]; ok && target != svcs[i].Name {
						set[target] = true
					}
				}
			}
		}
		svcs[i].Calls = nil
		for t := range set {
			svcs[i].Calls = append(svcs[i].Calls, t)
		}
		sort.Strings(svcs[i].Calls)
	}
}

var userLine = regexp.MustCompile(`(?im)^\s*(FROM|USER)\s+(\S+)`)

// finalUser returns the USER of a Dockerfile's last stage ("" when it runs
// as the image's default user).
func finalUser(dockerfile []byte) string {
	user := ""
	for _, m := range userLine.FindAllSubmatch(dockerfile, -1) {
		if strings.EqualFold(string(m[1]), "FROM") {
			user = ""
		} else {
			user = string(m[2])
		}
	}
	return user
}
