package analyze

import (
	"go/ast"
	"go/token"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// This file holds the syntax-tree scan of one Go file: where it serves,
// which listen addresses and port defaults it writes.

// Port hit kinds, in priority order.
const (
	goPortListen     = iota // ListenAndServe(":8080"), Addr: ":8080", r.Run(":8080")
	goPortFlag              // flag.String("addr", ":8080", ...)
	goPortEnvDefault        // if port == "" { port = "8080" }, cmp.Or(os.Getenv("PORT"), "8080")
)

type goPortHit struct {
	kind int
	port int
	file *goFile
	line int
}

// goScan is what one file's syntax tree says about serving.
type goScan struct {
	serves      bool // calls ListenAndServe/Serve/net.Listen with a server package imported
	hits        []goPortHit
	envDefaults map[string]string // env var -> default set by an if/cmp.Or pattern
}

// goListenFuncs take a listen address among their arguments.
var goListenFuncs = map[string]bool{
	"ListenAndServe": true, "ListenAndServeTLS": true, "Listen": true, "ListenTLS": true,
	"Run": true, "RunTLS": true, "Start": true, "StartTLS": true,
}

var goServeFuncs = map[string]bool{"ListenAndServe": true, "ListenAndServeTLS": true, "Serve": true, "ServeTLS": true, "Listen": true}

// goPortName reports whether an identifier, flag or environment variable
// name holds the server's own port or listen address (PORT, httpPort,
// LISTEN_ADDR, addr), not another service's address (REDIS_ADDR).
func goPortName(n string) bool {
	n = strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "").Replace(n))
	if n == "" {
		return false
	}
	if strings.Contains(n, "port") || strings.Contains(n, "listen") || strings.Contains(n, "bind") {
		return true
	}
	switch n {
	case "addr", "address", "httpaddr", "httpaddress", "serveraddr", "serveraddress", "grpcaddr", "srvaddr":
		return true
	}
	return false
}

var goDigits = regexp.MustCompile(`^[0-9]{1,5}$`)

// goAddrPort returns the port of a listen address (":8080", "0.0.0.0:8080")
// or a bare port number ("8080"), 0 if it is neither.
func goAddrPort(s string) int {
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	if !goDigits.MatchString(s) {
		return 0
	}
	p, _ := strconv.Atoi(s)
	if p <= 0 || p > 65535 {
		return 0
	}
	return p
}

func scanGoFile(f *goFile) *goScan {
	sc := &goScan{envDefaults: map[string]string{}}
	if f.syntax == nil {
		return sc
	}
	netImported := false
	for _, ip := range f.imports {
		if ip == "net" || ip == "net/http" || strings.HasPrefix(ip, "google.golang.org/grpc") {
			netImported = true
		}
	}
	base := f.syntax.FileStart
	line := func(p token.Pos) int { return LineOf(f.content, int(p-base)) }

	strs := map[string]string{}  // identifier -> string/int literal assigned to it
	envOf := map[string]string{} // identifier -> env var read into it
	lit := func(e ast.Expr) (string, bool) {
		switch x := e.(type) {
		case *ast.BasicLit:
			if x.Kind == token.STRING {
				v, err := strconv.Unquote(x.Value)
				return v, err == nil
			}
			if x.Kind == token.INT {
				return x.Value, true
			}
		case *ast.Ident:
			v, ok := strs[x.Name]
			return v, ok
		}
		return "", false
	}
	getenv := func(e ast.Expr) string {
		call, ok := e.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return ""
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
			return ""
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "os" {
			return ""
		}
		if b, ok := call.Args[0].(*ast.BasicLit); ok && b.Kind == token.STRING {
			v, _ := strconv.Unquote(b.Value)
			return v
		}
		return ""
	}
	record := func(lhs []ast.Expr, rhs []ast.Expr) {
		if len(rhs) == 1 {
			if name := getenv(rhs[0]); name != "" && len(lhs) > 0 {
				if id, ok := lhs[0].(*ast.Ident); ok {
					envOf[id.Name] = name
				}
			}
		}
		if len(lhs) != len(rhs) {
			return
		}
		for i, l := range lhs {
			id, ok := l.(*ast.Ident)
			if !ok {
				continue
			}
			if b, ok := rhs[i].(*ast.BasicLit); ok {
				if v, ok := lit(b); ok {
					if _, dup := strs[id.Name]; !dup {
						strs[id.Name] = v
					}
				}
			}
		}
	}
	portLike := func(ident, env string) bool { return goPortName(ident) || goPortName(env) }
	// First pass: constants and assignments, so later uses resolve.
	ast.Inspect(f.syntax, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.ValueSpec:
			var lhs []ast.Expr
			for _, id := range x.Names {
				lhs = append(lhs, id)
			}
			record(lhs, x.Values)
		case *ast.AssignStmt:
			record(x.Lhs, x.Rhs)
		}
		return true
	})
	ast.Inspect(f.syntax, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			name := ""
			pkg := ""
			switch fn := x.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
				if id, ok := fn.X.(*ast.Ident); ok {
					pkg = id.Name
				}
			case *ast.Ident:
				name = fn.Name
			}
			if goServeFuncs[name] && netImported {
				sc.serves = true
			}
			switch {
			case (pkg == "flag" || pkg == "pflag") && len(x.Args) >= 2 &&
				(strings.HasPrefix(name, "String") || strings.HasPrefix(name, "Int") || strings.HasPrefix(name, "Uint")):
				// flag.String("addr", ":8080", ...), flag.IntVar(&p, "port", 8080, ...)
				args := x.Args
				if strings.HasSuffix(name, "Var") && len(args) >= 3 {
					args = args[1:]
				} else if strings.HasSuffix(name, "VarP") && len(args) >= 4 {
					args = append([]ast.Expr{args[1]}, args[3:]...)
				} else if strings.HasSuffix(name, "P") && len(args) >= 3 {
					args = append([]ast.Expr{args[0]}, args[2:]...)
				}
				fname, _ := lit(args[0])
				def, ok := lit(args[1])
				if ok && portLike(fname, "") {
					if p := goAddrPort(def); p > 0 {
						sc.hits = append(sc.hits, goPortHit{goPortFlag, p, f, line(x.Pos())})
					}
				}
			case pkg == "cmp" && name == "Or":
				env := ""
				for _, a := range x.Args {
					if e := getenv(a); e != "" && env == "" {
						env = e
						continue
					}
					if v, ok := lit(a); ok && env != "" {
						if _, dup := sc.envDefaults[env]; !dup {
							sc.envDefaults[env] = v
						}
						if p := goAddrPort(v); p > 0 && portLike("", env) {
							sc.hits = append(sc.hits, goPortHit{goPortEnvDefault, p, f, line(a.Pos())})
						}
						break
					}
				}
			case goListenFuncs[name]:
				for _, a := range x.Args {
					v, ok := lit(a)
					if !ok || !strings.Contains(v, ":") {
						continue
					}
					if p := goAddrPort(v); p > 0 {
						sc.hits = append(sc.hits, goPortHit{goPortListen, p, f, line(x.Pos())})
						break
					}
				}
			}
		case *ast.CompositeLit:
			// &http.Server{Addr: ":8080"} (not redis.Options{Addr: ...})
			if t, ok := x.Type.(*ast.SelectorExpr); !ok || t.Sel.Name != "Server" {
				return true
			}
			for _, el := range x.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Addr" {
					if v, ok := lit(kv.Value); ok && strings.Contains(v, ":") {
						if p := goAddrPort(v); p > 0 {
							sc.hits = append(sc.hits, goPortHit{goPortListen, p, f, line(kv.Pos())})
						}
					}
				}
			}
		case *ast.IfStmt:
			// if port == "" { port = "8080" }
			cond, ok := x.Cond.(*ast.BinaryExpr)
			if !ok || cond.Op != token.EQL {
				return true
			}
			id, ok := cond.X.(*ast.Ident)
			if b, isLit := cond.Y.(*ast.BasicLit); !ok || !isLit || b.Value != `""` {
				return true
			}
			for _, st := range x.Body.List {
				as, ok := st.(*ast.AssignStmt)
				if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
					continue
				}
				l, ok := as.Lhs[0].(*ast.Ident)
				if !ok || l.Name != id.Name {
					continue
				}
				b, ok := as.Rhs[0].(*ast.BasicLit)
				if !ok || b.Kind != token.STRING {
					continue
				}
				v, _ := strconv.Unquote(b.Value)
				env := envOf[id.Name]
				if env != "" {
					if _, dup := sc.envDefaults[env]; !dup {
						sc.envDefaults[env] = v
					}
				}
				if p := goAddrPort(v); p > 0 && portLike(id.Name, env) {
					sc.hits = append(sc.hits, goPortHit{goPortEnvDefault, p, f, line(as.Pos())})
				}
			}
		}
		return true
	})
	return sc
}

// goPort picks the port in priority order: a literal listen address in the
// main package, then in the packages it imports; a flag default; a PORT-like
// environment default; a PORT in .env.
func goPort(r *Repo, m *goModule, bin *goPackage, code []*goPackage, hits [3][]goPortHit) (int, string) {
	inMain := func(h goPortHit) bool { return path.Dir(h.file.path) == bin.dir }
	for _, kind := range []int{goPortListen, goPortFlag} {
		for _, h := range hits[kind] {
			if inMain(h) {
				return h.port, Source(h.file.rel, h.line)
			}
		}
		if len(hits[kind]) > 0 {
			h := hits[kind][0]
			return h.port, Source(h.file.rel, h.line)
		}
	}
	// Environment defaults read by the binary's own code.
	var codeEnv []EnvVar
	for _, p := range code {
		for _, f := range p.files {
			codeEnv = MergeEnv(codeEnv, ScanEnv(LangGo, f.rel, f.content)...)
		}
	}
	if p, src := PortFromEnv(codeEnv); p > 0 {
		return p, src
	}
	if len(hits[goPortEnvDefault]) > 0 {
		h := hits[goPortEnvDefault][0]
		return h.port, Source(h.file.rel, h.line)
	}
	for _, v := range codeEnv {
		if goPortName(v.Name) {
			if p := goAddrPort(v.Default); p > 0 {
				return p, v.Source
			}
		}
	}
	for _, d := range []string{bin.dir, m.dir} {
		for _, name := range []string{".env", ".env.example"} {
			f := Join(d, name)
			content, err := r.ReadFile(f)
			if err != nil {
				continue
			}
			if p, src := PortFromEnv(ParseDotEnv(Rel(m.dir, f), content)); p > 0 {
				return p, src
			}
		}
	}
	return 0, ""
}
