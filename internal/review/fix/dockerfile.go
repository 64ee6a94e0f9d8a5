package fix

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Fixers of Dockerfile rules: a named USER (KW-DOCKER-012), an unpinned
// base image (KW-DOCKER-013), and secrets the build context lets into the
// image (KW-DOCKER-015, fixed in the ignore file).

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	name  string
	data  []byte
	lines []string
	nodes []*parser.Node // the instructions, in order
}

func (c *call) dockerfile() (*dockerfile, error) {
	data, err := c.mustRead(c.f.File)
	if err != nil {
		return nil, err
	}
	return parseDockerfile(c.f.File, data)
}

func parseDockerfile(name string, data []byte) (d *dockerfile, err error) {
	defer func() {
		// The parser is third-party code fed untrusted bytes.
		if recover() != nil {
			d, err = nil, unfixable("%s does not parse as a Dockerfile: fix its syntax first", name)
		}
	}()
	res, perr := parser.Parse(bytes.NewReader(data))
	if perr != nil {
		return nil, unfixable("%s does not parse as a Dockerfile: fix its syntax first", name)
	}
	return &dockerfile{name: name, data: data, lines: splitLines(data), nodes: res.AST.Children}, nil
}

// at returns the instruction (lowercase name) that starts at line.
func (d *dockerfile) at(instr string, line int) *parser.Node {
	for _, n := range d.nodes {
		if n.StartLine == line && strings.EqualFold(n.Value, instr) {
			return n
		}
	}
	return nil
}

// args are an instruction's arguments.
func args(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

// stage is one FROM and the instructions after it.
type stage struct {
	from  *parser.Node
	image string // as written
	name  string // its AS name, lowercased
	body  []*parser.Node
}

func (d *dockerfile) stages() []stage {
	var out []stage
	for _, n := range d.nodes {
		if strings.EqualFold(n.Value, "from") {
			a := args(n)
			st := stage{from: n}
			if len(a) > 0 {
				st.image = a[0]
			}
			if len(a) == 3 && strings.EqualFold(a[1], "as") {
				st.name = strings.ToLower(a[2])
			}
			out = append(out, st)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].body = append(out[len(out)-1].body, n)
		}
	}
	return out
}

// chain returns the stage holding line and the stages it builds on (FROM
// an earlier stage), nearest first, and the external base image at the
// root of that chain.
func chain(stages []stage, line int) ([]stage, string) {
	i := -1
	for j, st := range stages {
		if st.from.StartLine <= line {
			i = j
		}
	}
	var out []stage
	for i >= 0 {
		st := stages[i]
		out = append(out, st)
		next := -1
		for j := i - 1; j >= 0; j-- {
			if stages[j].name != "" && stages[j].name == strings.ToLower(st.image) {
				next = j
				break
			}
		}
		if next < 0 {
			return out, st.image
		}
		i = next
	}
	return out, ""
}

// replaceToken replaces the whitespace-delimited token old on a one-line
// instruction, after its keyword.
func (d *dockerfile) replaceToken(n *parser.Node, old, repl string) ([]byte, error) {
	if n.StartLine != n.EndLine {
		return nil, unfixable("the instruction at line %d of %s spans lines: edit it by hand", n.StartLine, d.name)
	}
	li := n.StartLine - 1
	line := d.lines[li]
	kw := len(line) - len(strings.TrimLeft(line, " \t")) + len(n.Value)
	i := kw
	for {
		j := strings.Index(line[i:], old)
		if j < 0 {
			return nil, unfixable("line %d of %s is unusual: edit it by hand", n.StartLine, d.name)
		}
		s, e := i+j, i+j+len(old)
		if isBlank(line[s-1]) && (e == len(line) || isBlank(line[e])) {
			lines := append([]string(nil), d.lines...)
			lines[li] = line[:s] + repl + line[e:]
			return []byte(strings.Join(lines, "")), nil
		}
		i = e
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// verifyInstr reparses out and checks that it has the same instructions,
// with the one at line now holding want as its first argument.
func (d *dockerfile) verifyInstr(out []byte, line int, want string) error {
	nd, err := parseDockerfile(d.name, out)
	if err != nil || len(nd.nodes) != len(d.nodes) {
		return unfixable("an edit of %s would not keep it a valid Dockerfile: edit it by hand", d.name)
	}
	for i, n := range nd.nodes {
		if n.StartLine == line {
			if a := args(n); len(a) == 0 || a[0] != want {
				return unfixable("an edit of %s would not set what the fix intends: edit it by hand", d.name)
			}
			continue
		}
		if n.Original != d.nodes[i].Original {
			return unfixable("an edit of %s would change more than the fix intends: edit it by hand", d.name)
		}
	}
	return nil
}

func fixDockerUser(c *call) (change, error) {
	d, err := c.dockerfile()
	if err != nil {
		return change{}, err
	}
	n := d.at("user", c.f.Line)
	if n == nil || len(args(n)) != 1 {
		return change{}, unfixable("line %d of %s is not a USER instruction", c.f.Line, c.f.File)
	}
	arg := args(n)[0]
	if strings.ContainsAny(arg, "$") {
		return change{}, unfixable("USER %s is set through a variable: set the variable to a numeric UID", arg)
	}
	user, group, hasGroup := strings.Cut(arg, ":")
	stages, base := chain(d.stages(), c.f.Line)
	acc := accounts{users: map[string]string{}, groups: map[string]string{}}
	for i := len(stages) - 1; i >= 0; i-- {
		for _, in := range stages[i].body {
			if in.StartLine < c.f.Line && strings.EqualFold(in.Value, "run") {
				acc.read(strings.Join(args(in), " "))
			}
		}
	}
	uid, how := acc.users[user], "created with that UID in "+c.f.File
	if uid == "" {
		uid, how = wellKnownID(base, user), "the UID of "+user+" in "+base
	}
	if uid == "" {
		return change{}, unfixable("the UID of user %s is not set in %s: create the user with a fixed UID (adduser -u 10001 %s) and use USER 10001:10001", user, c.f.File, user)
	}
	repl := uid
	if hasGroup {
		gid := group
		if !isNumber(group) {
			gid = acc.groups[group]
			if gid == "" {
				gid = wellKnownID(base, group)
			}
		}
		if gid == "" {
			return change{}, unfixable("the GID of group %s is not set in %s: create it with a fixed GID (addgroup -g 10001 %s)", group, c.f.File, group)
		}
		repl += ":" + gid
	}
	out, err := d.replaceToken(n, arg, repl)
	if err != nil {
		return change{}, err
	}
	if err := d.verifyInstr(out, n.StartLine, repl); err != nil {
		return change{}, err
	}
	return change{file: c.f.File, after: out,
		title: fmt.Sprintf("Use the numeric USER %s (%s).", repl, how),
		note:  "files the image's build gave to the user by name keep working: the UID is the same"}, nil
}

// accounts are the users and groups RUN instructions create with a fixed
// ID: name to ID.
type accounts struct {
	users, groups map[string]string
}

// Options of useradd and adduser (busybox short, Debian long) that take a
// value.
var (
	useraddValued = flagSet("-b -c -d -e -f -g -G -k -K -p -R -P -s -u -Z --base-dir --comment --home-dir --expiredate --inactive --gid --groups --skel --key --password --root --prefix --shell --uid --selinux-user")
	adduserValued = flagSet("-h -g -s -G -u -k --home --shell --uid --gid --ingroup --gecos --comment --firstuid --lastuid --firstgid --lastgid --conf")
	groupValued   = flagSet("-g -K -p -R -P --gid --key --password --root --prefix --firstgid --lastgid --conf")
)

func flagSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// read records the accounts a shell command creates.
func (a *accounts) read(script string) {
	r := strings.NewReplacer("&&", ";", "||", ";", "|", ";", "\n", ";", "\\", " ")
	for _, cmd := range strings.Split(r.Replace(script), ";") {
		f := shellFields(cmd)
		if len(f) == 0 {
			continue
		}
		switch path.Base(f[0]) {
		case "useradd":
			opts, pos := parseFlags(f[1:], useraddValued)
			if len(pos) == 1 && isNumber(opts["u"]) {
				a.users[pos[0]] = opts["u"]
			}
		case "adduser":
			opts, pos := parseFlags(f[1:], adduserValued)
			if len(pos) >= 1 && isNumber(opts["u"]) {
				a.users[pos[0]] = opts["u"]
			}
		case "groupadd", "addgroup":
			opts, pos := parseFlags(f[1:], groupValued)
			if len(pos) == 1 && isNumber(opts["g"]) {
				a.groups[pos[0]] = opts["g"]
			}
		}
	}
}

// shellFields splits a command into words as a shell would for plain
// words and quoted strings ("the app", 'x y'); no expansion.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// parseFlags splits arguments into options (by their letter: -u and --uid
// are "u", -g and --gid are "g") and positional arguments.
func parseFlags(argv []string, valued map[string]bool) (map[string]string, []string) {
	opts := map[string]string{}
	var pos []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, inline := strings.Cut(a, "=")
		if !inline && valued[name] && i+1 < len(argv) {
			i++
			val = argv[i]
		}
		key := strings.TrimLeft(name, "-")
		switch key {
		case "uid":
			key = "u"
		case "gid":
			key = "g"
		}
		opts[key] = val
	}
	return opts, pos
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// wellKnownID is the ID of a user or group that a base image family
// defines, or "".
func wellKnownID(base, name string) string {
	repo, _, _ := splitImage(strings.ToLower(base))
	switch name {
	case "nobody", "nogroup":
		return "65534"
	case "nonroot":
		if strings.Contains(repo, "distroless") || strings.HasPrefix(repo, "cgr.dev/") {
			return "65532"
		}
	case "node":
		if path.Base(repo) == "node" {
			return "1000"
		}
	case "app":
		if strings.HasPrefix(repo, "mcr.microsoft.com/dotnet/") {
			return "1654"
		}
	}
	return ""
}

func fixDockerBaseTag(c *call) (change, error) {
	d, err := c.dockerfile()
	if err != nil {
		return change{}, err
	}
	n := d.at("from", c.f.Line)
	if n == nil || len(args(n)) == 0 {
		return change{}, unfixable("line %d of %s is not a FROM instruction", c.f.Line, c.f.File)
	}
	image := args(n)[0]
	var others []string
	for _, in := range d.nodes {
		a := args(in)
		switch {
		case strings.EqualFold(in.Value, "from") && len(a) > 0 && in != n:
			others = append(others, a[0])
		case strings.EqualFold(in.Value, "arg"):
			for _, kv := range a {
				if _, v, ok := strings.Cut(kv, "="); ok {
					others = append(others, strings.Trim(v, `"'`))
				}
			}
		}
	}
	pinned, err := pinFrom(image, others, c.f.File)
	if err != nil {
		return change{}, err
	}
	out, err := d.replaceToken(n, image, pinned)
	if err != nil {
		return change{}, err
	}
	if err := d.verifyInstr(out, n.StartLine, pinned); err != nil {
		return change{}, err
	}
	return change{file: c.f.File, after: out,
		title: fmt.Sprintf("Pin the base image to %s, the version %s uses elsewhere.", pinned, c.f.File),
		note:  "check that this is the version to build on; a digest (@sha256:...) pins it further"}, nil
}
