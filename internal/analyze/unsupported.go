package analyze

import (
	"encoding/json"
	"path"
	"regexp"
	"sort"
)

// UnsupportedDetector reports projects in languages kubewright finds but
// does not containerize yet (Ruby, PHP), so they are never skipped
// silently: each becomes a ServiceError of kind ErrUnsupported with a hint.
// A Gemfile or composer.json that only supports tooling (no server gem, no
// PHP entry point) is not reported.
type UnsupportedDetector struct{}

func (UnsupportedDetector) Name() string { return "unsupported" }

var (
	rubyServerGem = regexp.MustCompile(`(?m)^\s*gem\s+['"](rails|sinatra|puma|rack|hanami|roda|grape|sidekiq|unicorn|thin|falcon|grpc)['"]`)
	phpFrameworks = []string{"laravel/framework", "laravel/lumen-framework", "slim/slim", "symfony/framework-bundle", "symfony/http-kernel", "cakephp/cakephp", "yiisoft/yii2", "laminas/laminas-mvc", "codeigniter4/framework"}
)

// Detect returns one ServiceError per Ruby or PHP application directory.
func (UnsupportedDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	var errs []ServiceError
	for _, f := range r.Named("Gemfile") {
		dir := path.Dir(f)
		b, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		m := rubyServerGem.FindSubmatchIndex(b)
		hasRack := r.Exists(Join(dir, "config.ru"))
		if m == nil && !hasRack {
			continue
		}
		e := ServiceError{Kind: ErrUnsupported, Language: "ruby", Path: dir, File: f, Line: 1,
			Message: "Ruby application found (" + path.Base(f) + "); kubewright does not containerize Ruby yet, so it gets no Dockerfile or manifests",
			Hint:    "write " + Join(dir, "Dockerfile") + " and its manifests by hand; kubewright leaves this directory alone"}
		if m != nil {
			e.Line = LineOf(b, m[0])
			e.Message = "Ruby application found (gem " + string(b[m[2]:m[3]]) + "); kubewright does not containerize Ruby yet, so it gets no Dockerfile or manifests"
		}
		errs = append(errs, e)
	}
	for _, f := range r.Named("composer.json") {
		dir := path.Dir(f)
		b, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		var c struct {
			Type    string            `json:"type"`
			Require map[string]string `json:"require"`
		}
		_ = json.Unmarshal(b, &c) // a broken composer.json is still a PHP project
		fw := ""
		keys := make([]string, 0, len(c.Require))
		for k := range c.Require {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, want := range phpFrameworks {
			for _, k := range keys {
				if k == want && fw == "" {
					fw = k
				}
			}
		}
		entry := r.Exists(Join(dir, "public/index.php")) || r.Exists(Join(dir, "index.php")) || r.Exists(Join(dir, "artisan"))
		if fw == "" && (!entry || c.Type == "library") {
			continue
		}
		msg := "PHP application found"
		if fw != "" {
			msg += " (" + fw + ")"
		}
		errs = append(errs, ServiceError{Kind: ErrUnsupported, Language: "php", Path: dir, File: f, Line: 1,
			Message: msg + "; kubewright does not containerize PHP yet, so it gets no Dockerfile or manifests",
			Hint:    "write " + Join(dir, "Dockerfile") + " and its manifests by hand; kubewright leaves this directory alone"})
	}
	return nil, errs
}
