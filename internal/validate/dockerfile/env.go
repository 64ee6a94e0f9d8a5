package dockerfile

import (
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ---- environment: ARG defaults and ENV, for expanding words ----

// dockerEnv is a set of build variables, as BuildKit's shell lexer reads them.
type dockerEnv map[string]string

func (e dockerEnv) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e dockerEnv) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (e dockerEnv) clone() dockerEnv {
	c := make(dockerEnv, len(e))
	for k, v := range e {
		c[k] = v
	}
	return c
}

// dockerPlatformArgs are predefined for FROM lines. Their values only
// serve to tell a pinned reference from an unpinned one.
var dockerPlatformArgs = []string{
	"BUILDPLATFORM=linux/amd64", "BUILDOS=linux", "BUILDARCH=amd64", "BUILDVARIANT=",
	"TARGETPLATFORM=linux/amd64", "TARGETOS=linux", "TARGETARCH=amd64", "TARGETVARIANT=",
}

func dockerIsPlatformArg(key string) bool {
	for _, kv := range dockerPlatformArgs {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func dockerGlobalEnv(lex *shell.Lex, metaArgs []instructions.ArgCommand) dockerEnv {
	env := dockerEnv{}
	for _, kv := range dockerPlatformArgs {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value == nil {
				// Declared without a default: only --build-arg sets it
				// (the predefined platform arguments keep their value).
				if !dockerIsPlatformArg(kv.Key) {
					delete(env, kv.Key)
				}
				continue
			}
			if v, _, err := lex.ProcessWord(*kv.Value, env); err == nil {
				env[kv.Key] = v
			}
		}
	}
	return env
}

// stageEnv is the environment of stage i before its command upto (all of
// them when upto < 0): ENV inherited from a parent stage, then the stage's
// own ARG (with the global default for a bare ARG) and ENV.
func (d *dockerFile) stageEnv(i, upto int) dockerEnv {
	env := dockerEnv{}
	if p := d.parentStage(i); p >= 0 && d.env[p] != nil {
		env = d.env[p].clone()
	}
	for j, c := range d.stages[i].Commands {
		if upto >= 0 && j >= upto {
			break
		}
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if kv.Value == nil {
					if v, ok := d.global[kv.Key]; ok {
						env[kv.Key] = v
					}
					continue
				}
				if v, _, err := d.lex.ProcessWord(*kv.Value, env); err == nil {
					env[kv.Key] = v
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if v, _, err := d.lex.ProcessWord(kv.Value, env); err == nil {
					env[kv.Key] = v
				}
			}
		}
	}
	return env
}

// expand substitutes variables in word; ok is false when one is undefined.
func (d *dockerFile) expand(word string, env dockerEnv) (string, bool) {
	if !strings.Contains(word, "$") {
		return word, true
	}
	v, unmatched, err := d.lex.ProcessWord(word, env)
	return v, err == nil && len(unmatched) == 0
}

// parentStage is the index of the earlier stage stage i builds FROM, or -1.
func (d *dockerFile) parentStage(i int) int {
	base, ok := d.expand(d.stages[i].BaseName, d.global)
	if !ok {
		return -1
	}
	base = strings.ToLower(base)
	for j := 0; j < i; j++ {
		if d.stages[j].Name != "" && d.stages[j].Name == base {
			return j
		}
	}
	if n, err := strconv.Atoi(base); err == nil && n >= 0 && n < i {
		return n
	}
	return -1
}

func (d *dockerFile) final() int { return len(d.stages) - 1 }

func (d *dockerFile) fromLine(i int) int { return dockerLine(d.stages[i].Location) }
