package analyze

import (
	"bytes"
	"path"
	"sort"
	"strconv"
	"strings"
)

// This file holds the model-wide passes that relate services to each other
// and to the repository: calls between services, ports set in the
// repository's compose environment, and the runtime files an image needs.

// callSuffixes end the variables that hold another service's address.
var callSuffixes = []string{"_BASE_URL", "__BASEURL", "_URL", "_URI", "_HOST", "_ADDR", "_ADDRESS", "_ENDPOINT", "_SERVICE_HOST"}

// callNoise are trailing words of a variable prefix that do not belong to
// the service name (USERSERVICE_API_ADDR -> userservice).
var callNoise = map[string]bool{"API": true, "SERVICE": true, "SVC": true, "GRPC": true, "HTTP": true, "SERVER": true, "INTERNAL": true, "PUBLIC": true}

func callKey(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "").Replace(s))
}

// linkCalls finds service-to-service calls from environment variables whose
// prefix names another service: USER_SERVICE_URL, LINKSHORT_API_URL
// (linkshort-api), PRODUCT_CATALOG_ADDR (product-catalog), USERSERVICE_API_ADDR
// (userservice).
func linkCalls(svcs []Service) {
	byKey := map[string]string{}
	for _, s := range svcs {
		byKey[callKey(s.Name)] = s.Name
	}
	for _, s := range svcs {
		k := callKey(s.Name)
		if base, ok := strings.CutSuffix(k, "service"); ok && base != "" {
			if _, taken := byKey[base]; !taken {
				byKey[base] = s.Name
			}
		}
	}
	for i := range svcs {
		set := map[string]bool{}
		for _, e := range svcs[i].Env {
			n := strings.ToUpper(e.Name)
			for _, suf := range callSuffixes {
				base, ok := strings.CutSuffix(n, suf)
				if !ok || base == "" {
					continue
				}
				if t := callTarget(base, byKey); t != "" && t != svcs[i].Name {
					set[t] = true
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

// callTarget matches a variable prefix against the service keys, dropping
// trailing noise words one at a time.
func callTarget(base string, byKey map[string]string) string {
	words := strings.Split(strings.Trim(base, "_"), "_")
	for len(words) > 0 {
		if t, ok := byKey[callKey(strings.Join(words, "_"))]; ok {
			return t
		}
		if !callNoise[words[len(words)-1]] {
			return ""
		}
		words = words[:len(words)-1]
	}
	return ""
}

// callSchemes introduce an address naming a host.
var callSchemes = []string{"http://", "https://", "grpc://", "grpcs://", "ws://", "wss://", "dns:///", "dns://"}

// literalCalls returns the names among names that b writes as an address:
// "http://user-service:8081", "grpc://cart", "dns:///cartservice:7070", or
// a quoted "cartservice:7070". It scans with bytes.Index, one name at a
// time, instead of a regular expression over every byte.
func literalCalls(b []byte, names []string) []string {
	var out []string
	for _, n := range names {
		nb := []byte(n)
		for off := 0; off < len(b); {
			i := bytes.Index(b[off:], nb)
			if i < 0 {
				break
			}
			pos := off + i
			off = pos + len(nb)
			before, after := b[:pos], b[pos+len(nb):]
			if len(after) > 0 && hostChar(after[0]) {
				continue
			}
			scheme := false
			for _, sc := range callSchemes {
				if bytes.HasSuffix(before, []byte(sc)) {
					scheme = true
					break
				}
			}
			if scheme || len(before) > 0 && (before[len(before)-1] == '"' || before[len(before)-1] == '\'' || before[len(before)-1] == '`') && quotedPort(after) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func hostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

// quotedPort reports whether s starts with ":<2-5 digits>" then a quote or '/'.
func quotedPort(s []byte) bool {
	if len(s) < 3 || s[0] != ':' {
		return false
	}
	i := 1
	for i < len(s) && i <= 6 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i >= 3 && i <= 6 && i < len(s) && (s[i] == '"' || s[i] == '\'' || s[i] == '`' || s[i] == '/')
}

// callFileExts are the files read for address literals.
var callFileExts = map[string]bool{".go": true, ".java": true, ".kt": true, ".cs": true, ".js": true, ".mjs": true, ".cjs": true, ".ts": true,
	".py": true, ".rs": true, ".json": true, ".yml": true, ".yaml": true, ".properties": true, ".toml": true}

// maxCallFiles bounds the files read per service for address literals.
const maxCallFiles = 2000

// linkCallLiterals adds calls found as literal addresses naming another
// service in the service's own files (not those of a service nested in it,
// not tests, not its Dockerfile's neighbours k8s/ and gitops/).
func linkCallLiterals(r *Repo, svcs []Service) {
	paths := map[string]bool{}
	var nameList []string
	for _, s := range svcs {
		paths[s.Path] = true
		nameList = append(nameList, s.Name)
	}
	for i := range svcs {
		s := &svcs[i]
		set := map[string]bool{}
		for _, c := range s.Calls {
			set[c] = true
		}
		n := 0
		for _, f := range filesOutsideNested(r, s.Path, paths) {
			if !callFileExts[path.Ext(f)] || callSkipFile(Rel(s.Path, f)) {
				continue
			}
			if n++; n > maxCallFiles {
				break
			}
			b, err := r.ReadFile(f)
			if err != nil {
				continue
			}
			for _, host := range literalCalls(b, nameList) {
				if host != s.Name {
					set[host] = true
				}
			}
		}
		s.Calls = s.Calls[:0]
		for t := range set {
			s.Calls = append(s.Calls, t)
		}
		sort.Strings(s.Calls)
		if len(s.Calls) == 0 {
			s.Calls = nil
		}
	}
}

// callSkipFile reports files whose addresses are not the service's calls:
// tests, deployment manifests, lock files and the launch settings of local
// development.
func callSkipFile(rel string) bool {
	base := path.Base(rel)
	switch base {
	case "package-lock.json", "launchSettings.json", "tsconfig.json", "angular.json", "docker-compose.yml", "docker-compose.yaml", "compose.yaml", "compose.yml":
		return true
	}
	if strings.Contains(base, ".test.") || strings.Contains(base, ".spec.") || strings.HasSuffix(base, "_test.go") || strings.HasPrefix(base, "test_") {
		return true
	}
	for _, e := range strings.Split(path.Dir(rel), "/") {
		switch e {
		case "test", "tests", "__tests__", "k8s", "gitops", "deploy", "kubernetes", "helm", "charts", "e2e", "node_modules":
			return true
		}
	}
	return strings.HasPrefix(rel, "src/test/")
}

// repoDotEnv reads the .env file at the repository root (docker compose's
// default environment file), which often sets each service's port.
func repoDotEnv(r *Repo) map[string]EnvVar {
	b, err := r.ReadFile(".env")
	if err != nil {
		return nil
	}
	out := map[string]EnvVar{}
	for _, v := range ParseDotEnv(".env", b) {
		if _, dup := out[v.Name]; !dup {
			out[v.Name] = v
		}
	}
	return out
}

// ownPortVar reports whether an environment variable names the service's
// own port: PORT, HTTP_PORT, GRPC_PORT, SERVER_PORT, or <WORD>_PORT where
// WORD is a word of the service's name or directory (SHOP_PAYMENT_PORT for
// payment, AD_PORT for src/ad), never another component's (FLAGD_PORT).
func ownPortVar(name string, s *Service) bool {
	n := strings.ToUpper(name)
	switch n {
	case "PORT", "HTTP_PORT", "GRPC_PORT", "SERVER_PORT", "APP_PORT", "LISTEN_PORT", "SERVICE_PORT", "WEB_PORT", "API_PORT":
		return true
	}
	prefix, ok := strings.CutSuffix(n, "_PORT")
	if !ok {
		return false
	}
	own := map[string]bool{}
	for _, src := range []string{s.Name, path.Base(s.Path)} {
		k := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(DNSLabel(src)))
		own[k] = true
		own[strings.TrimSuffix(k, "_SERVICE")] = true
	}
	if own[prefix] {
		return true
	}
	words := strings.Split(prefix, "_")
	return own[words[len(words)-1]] || own[strings.Join(words[1:], "_")]
}

// portFromOwnEnv replaces an assumed port with the default of a variable
// the code reads for its own port (SHOP_PAYMENT_PORT=8080).
func portFromOwnEnv(s *Service) {
	if s.Framework == "worker" || s.PortSource != "" && !strings.HasPrefix(s.PortSource, "default for") {
		return
	}
	for _, e := range s.Env {
		if !ownPortVar(e.Name, s) {
			continue
		}
		if p := goAddrPort(e.Default); p > 0 {
			s.Port, s.PortSource = p, e.Source
			s.Assumptions = dropPortAssumptions(s.Assumptions)
			return
		}
	}
}

func dropPortAssumptions(list []string) []string {
	var keep []string
	for _, a := range list {
		if !strings.Contains(strings.ToLower(a), "port") {
			keep = append(keep, a)
		}
	}
	return keep
}

// portFromRepoEnv replaces an assumed port with the one the repository's
// root .env gives a variable the service reads for its own port: PORT, or
// <NAME>_PORT where NAME is the service's name (CHECKOUT_PORT for checkout).
func portFromRepoEnv(s *Service, env map[string]EnvVar) {
	if len(env) == 0 || s.Port == 0 && s.Framework == "worker" {
		return
	}
	if s.PortSource != "" && !strings.HasPrefix(s.PortSource, "default for") {
		return
	}
	for _, e := range s.Env {
		if !ownPortVar(e.Name, s) {
			continue
		}
		v, ok := env[e.Name]
		if !ok {
			continue
		}
		p, err := strconv.Atoi(v.Default)
		if err != nil || p <= 0 || p > 65535 {
			continue
		}
		s.Port, s.PortSource = p, v.Source+" ("+e.Name+", read at "+e.Source+")"
		s.Assumptions = dropPortAssumptions(s.Assumptions)
		return
	}
}

// runtimeDirs are directories a running service reads from its working
// directory, per language; Java resources and .NET content are already in
// the build output.
var runtimeDirs = map[string][]string{
	LangJavaScript: {"migrations", "templates", "views", "static", "public", "config", "locales", "db/migrations", "prisma"},
	LangTypeScript: {"migrations", "templates", "views", "static", "public", "config", "locales", "db/migrations", "prisma"},
	LangPython:     {"alembic", "alembic.ini", "migrations", "templates", "static", "config", "locale"},
	LangGo:         {"migrations", "db/migrations", "templates", "static", "web/templates", "web/static", "config"},
	LangRust:       {"migrations", "templates", "static", "config"},
}

// runtimeFiles lists the runtime directories (with files) and files that
// exist in the service directory. Go packages that embed them (go:embed)
// need not copy them, but copying is harmless.
func runtimeFiles(r *Repo, s Service) []string {
	cands := runtimeDirs[s.Language]
	if len(cands) == 0 {
		return nil
	}
	var out []string
	for _, c := range cands {
		p := Join(s.Path, c)
		if r.Exists(p) || len(r.Under(p)) > 0 {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
