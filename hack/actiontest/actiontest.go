// Package actiontest checks GitHub Actions workflows and action metadata,
// three ways: every remote action is pinned by a full commit SHA with a
// "# vX.Y.Z" comment naming a version whose action.yml is vendored here
// (pinned/); actionlint (used as a library) lints the workflows, with each
// pinned action replaced by its vendored metadata so that inputs and
// outputs are checked against what that commit declares, and `uses: ./`
// resolved against the repository's own action.yml; and GitHub's own
// parser (@actions/workflow-parser, run by node from hack/npm) parses
// workflows and action metadata.
//
// It is a nested module (see go.mod for why) whose tests check
// kubewright's action.yml, the example workflows of README.md's "GitHub
// Action" section and the image workflows the deterministic author writes
// (internal/author/rules/testdata/imageci): `make test` runs them.
package actiontest

import (
	"fmt"
	"path"
	"strings"
)

// File is a workflow or an action's metadata to check.
type File struct {
	// Name identifies the file in problems ("kubewright-images.yml",
	// "README.md:612"); for actionlint it becomes a file under
	// .github/workflows/ of a scratch project.
	Name    string
	Content []byte
}

// Problem is one thing a check found.
type Problem struct {
	File   string
	Line   int
	Column int
	// Source is the check: "pin", "actionlint" or "workflow-parser".
	Source  string
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", p.File, p.Line, p.Column, p.Source, p.Message)
}

// Options say what the checked workflows may refer to.
type Options struct {
	// Root is the repository a `uses: ./` step runs: its action.yml is
	// what actionlint checks the step's inputs against ("" for none).
	Root string
	// Self is the action Root publishes ("kubewright/kubewright"): a step
	// that uses it at a release tag (Self@vX.Y.Z) is checked as `uses: ./`,
	// since its release commit cannot be known before the release.
	Self string
}

// scratchName is the file name a workflow gets in the scratch project:
// its name reduced to safe characters, numbered to stay unique.
func scratchName(i int, name string) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, strings.TrimSuffix(strings.TrimSuffix(path.Base(name), ".yml"), ".yaml"))
	return fmt.Sprintf("%02d-%s.yml", i, base)
}
