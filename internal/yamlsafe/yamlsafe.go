// Package yamlsafe is the gate every untrusted YAML file passes before a
// YAML library that materialises it (kyaml, krusty, sigs.k8s.io/yaml) sees
// it: a byte cap, an alias-expansion budget (the "billion laughs" anchor
// bomb), and a reader that keeps repository-relative paths inside their
// repository and refuses devices, FIFOs and oversized files.
//
// It is a leaf: it imports only the standard library and go.yaml.in/yaml/v3.
package yamlsafe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// MaxFileBytes is the default cap on one repository YAML file: 4 MiB. The
// largest single manifests met in practice (CRD bundles such as
// cert-manager's or Prometheus Operator's) are 1 to 3 MiB; parsing a 4 MiB
// file into YAML nodes costs a few hundred MiB at worst, which is the most
// one file may take from a worker.
const MaxFileBytes int64 = 4 << 20

// MaxAliasExpansion is the default node budget of one file: the number of
// YAML nodes it would have if every alias (*name) were replaced by a copy
// of its anchor. Ordinary manifests count one node per key, value and item
// (a 3 MiB CRD bundle is about 250,000); a ten-level billion-laughs bomb of
// 600 bytes counts over a billion.
const MaxAliasExpansion int64 = 1_000_000

// Limits bounds one file. Zero fields take the defaults above.
type Limits struct {
	// MaxBytes caps the file's size.
	MaxBytes int64
	// MaxNodes caps the node count with every alias expanded.
	MaxNodes int64
}

// Default returns the default limits.
func Default() Limits { return Limits{MaxBytes: MaxFileBytes, MaxNodes: MaxAliasExpansion} }

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = MaxFileBytes
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = MaxAliasExpansion
	}
	return l
}

// Reasons a file is refused; test with errors.Is.
var (
	ErrTooLarge    = errors.New("file over the size cap")
	ErrAliasBudget = errors.New("alias expansion over the node budget")
	ErrSyntax      = errors.New("not valid YAML")
	ErrPath        = errors.New("path not allowed")
	ErrNotRegular  = errors.New("not a regular file")
)

// Error is a refusal that names the file and, when known, the line, and
// says what to do. It never quotes the file's content.
type Error struct {
	File   string // as the caller named it (repository relative)
	Line   int    // 1-based; 0 when the whole file is refused
	Reason error  // one of the Err* values above
	Detail string // what is wrong
	Hint   string // what to do
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	s := loc + ": " + e.Detail
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Unwrap lets errors.Is match the reason.
func (e *Error) Unwrap() error { return e.Reason }

// Check refuses data over lim.MaxBytes and YAML whose node count, with
// every alias expanded, exceeds lim.MaxNodes. It parses each document once
// into a node tree (which keeps aliases as pointers, so parsing costs
// memory in proportion to the input) and counts expansions with one
// memoised walk, so the check is linear in the input however large the
// expansion. Data it cannot parse is refused with ErrSyntax, since it
// cannot vouch for it; multi-document streams are checked document by
// document against one budget for the whole file.
func Check(name string, data []byte, lim Limits) error {
	return decode(name, data, lim, nil)
}

// Decode is Check that also returns the documents (yaml.DocumentNode
// each), so a caller that needs the node trees parses once. On an error it
// returns the documents before the one that failed.
func Decode(name string, data []byte, lim Limits) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	err := decode(name, data, lim, func(d *yaml.Node) { docs = append(docs, d) })
	return docs, err
}

func decode(name string, data []byte, lim Limits, keep func(*yaml.Node)) (err error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return tooLarge(name, int64(len(data)), lim.MaxBytes)
	}
	defer func() {
		// The parser is third-party code fed untrusted bytes: a panic in it
		// refuses this file, it does not take the worker down.
		if r := recover(); r != nil {
			err = &Error{File: name, Reason: ErrSyntax,
				Detail: "the YAML parser could not read this file",
				Hint:   "check that it is valid YAML (yamllint can point at the problem)"}
		}
	}()
	c := counter{name: name, budget: lim.MaxNodes, memo: map[*yaml.Node]int64{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		doc := new(yaml.Node)
		if err := dec.Decode(doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return syntaxError(name, err)
		}
		if err := c.walk(doc); err != nil {
			return err
		}
		// Aliases may point into earlier documents; the memo stays valid
		// because nodes are never changed.
		if keep != nil {
			keep(doc)
		}
	}
}

// counter walks real nodes once, adding 1 for each, and adds the memoised
// expanded size of an alias's target for each alias.
type counter struct {
	name   string
	budget int64
	total  int64
	memo   map[*yaml.Node]int64
}

const inProgress = -1

func (c *counter) walk(n *yaml.Node) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		size, err := c.expanded(n.Alias, n)
		if err != nil {
			return err
		}
		return c.add(size, n)
	}
	if err := c.add(1, n); err != nil {
		return err
	}
	for _, ch := range n.Content {
		if err := c.walk(ch); err != nil {
			return err
		}
	}
	return nil
}

func (c *counter) add(k int64, at *yaml.Node) error {
	if k > c.budget-c.total {
		return c.over(at)
	}
	c.total += k
	return nil
}

// expanded is the node count of n with every alias inside it expanded,
// saturating just above the budget so it cannot overflow.
func (c *counter) expanded(n, alias *yaml.Node) (int64, error) {
	if n == nil {
		return 1, nil
	}
	if v, ok := c.memo[n]; ok {
		if v == inProgress {
			return 0, &Error{File: c.name, Line: alias.Line, Reason: ErrAliasBudget,
				Detail: fmt.Sprintf("alias *%s refers to a node that contains it, which expands forever", alias.Value),
				Hint:   "remove the alias or point it at an anchor outside itself"}
		}
		return v, nil
	}
	if n.Kind == yaml.AliasNode {
		c.memo[n] = inProgress
		v, err := c.expanded(n.Alias, n)
		if err != nil {
			return 0, err
		}
		c.memo[n] = v
		return v, nil
	}
	c.memo[n] = inProgress
	total := int64(1)
	for _, ch := range n.Content {
		v, err := c.expanded(ch, aliasOr(ch, alias))
		if err != nil {
			return 0, err
		}
		total += v
		if total > c.budget {
			total = c.budget + 1
		}
	}
	c.memo[n] = total
	return total, nil
}

func aliasOr(n, outer *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	return outer
}

func (c *counter) over(at *yaml.Node) error {
	detail := fmt.Sprintf("YAML expands to more than %d nodes when its aliases are expanded", c.budget)
	if at.Kind == yaml.AliasNode {
		detail = fmt.Sprintf("alias *%s takes the file past %d nodes when aliases are expanded (an anchor bomb, or a very large file)", at.Value, c.budget)
	}
	return &Error{File: c.name, Line: at.Line, Reason: ErrAliasBudget, Detail: detail,
		Hint: "write the repeated values out instead of nesting aliases, or split the file"}
}

func tooLarge(name string, size, max int64) error {
	return &Error{File: name, Reason: ErrTooLarge,
		Detail: fmt.Sprintf("file is %s, over the %s cap for YAML the bot reads", human(size), human(max)),
		Hint:   "split it into smaller files, or keep data that is not a manifest out of kustomizations"}
}

var lineRE = regexp.MustCompile(`line (\d+)`)

func syntaxError(name string, err error) error {
	e := &Error{File: name, Reason: ErrSyntax, Detail: "not valid YAML",
		Hint: "fix the syntax (yamllint can point at the problem)"}
	// yaml.v3 errors read "yaml: line N: <what>"; keep the line, and the
	// parser's words (they describe syntax, they do not quote content
	// beyond a character or token).
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			e.Line = n
		}
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	e.Detail = "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	return e
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
