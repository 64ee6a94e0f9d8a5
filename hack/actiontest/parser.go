package actiontest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// NPMDir is where `make test-assets` installs the pinned npm packages,
// relative to the repository root; ParserScript is the script there that
// runs GitHub's workflow parser.
const (
	NPMDir       = "hack/npm"
	ParserScript = "workflow-parser.mjs"
	parserModule = "node_modules/@actions/workflow-parser/package.json"
)

// FindNPMDir finds NPMDir with the parser installed, in the nearest
// directory above the working directory that has one (kubewright's module
// root); the error says how to install it.
func FindNPMDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		npm := filepath.Join(dir, filepath.FromSlash(NPMDir))
		if _, err := os.Stat(filepath.Join(npm, "package.json")); err == nil {
			if _, err := os.Stat(filepath.Join(npm, filepath.FromSlash(parserModule))); err != nil {
				return "", fmt.Errorf("GitHub's workflow parser is not installed in %s (%w): run `make test-assets`", npm, err)
			}
			return npm, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("no %s above the working directory: run the tests inside the kubewright repository", NPMDir)
		}
		dir = up
	}
}

// Parse runs GitHub's own parser (@actions/workflow-parser) with node on
// workflows and on action metadata (actions), and returns what it
// refused. npmDir is FindNPMDir's answer. The parser reads only stdin.
func Parse(ctx context.Context, npmDir string, workflows, actions []File) ([]Problem, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not on PATH (%w): install Node.js 20 or later, then run `make test-assets`", err)
	}
	type input struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Content string `json:"content"`
	}
	var in []input
	for _, w := range workflows {
		in = append(in, input{w.Name, "workflow", string(w.Content)})
	}
	for _, a := range actions {
		in = append(in, input{a.Name, "action", string(a.Content)})
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	script := filepath.Join(npmDir, ParserScript)
	if _, err := os.Stat(script); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing", script)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = npmDir
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", ParserScript, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("%s printed %q, not a JSON list of problems: %w", ParserScript, stdout.String(), err)
	}
	probs := make([]Problem, 0, len(out))
	for _, p := range out {
		probs = append(probs, Problem{File: p.File, Line: p.Line, Column: p.Column, Source: "workflow-parser", Message: p.Message})
	}
	return probs, nil
}
