package dockerfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kubewright/kubewright/internal/finding"
)

// ---- KW-DOCKER-010: multi-stage ----

func (d *dockerFile) checkStages() {
	if len(d.stages) >= 2 {
		return
	}
	d.add(dockerIDSingleStage, finding.Warning, d.fromLine(0),
		"single-stage build: compilers, package caches and sources end up in the runtime image",
		"build in one stage (FROM ... AS build), then start a slim runtime stage and COPY --from=build only the artifact")
}

// ---- KW-DOCKER-013: pinned base images ----

func (d *dockerFile) checkBases() {
	for i, st := range d.stages {
		line := d.fromLine(i)
		res, err := d.lex.ProcessWordWithMatches(st.BaseName, d.global)
		if err != nil {
			continue // the build reports it
		}
		if len(res.Unmatched) > 0 {
			names := dockerSortedKeys(res.Unmatched)
			d.add(dockerIDUnpinned, finding.Error, line,
				fmt.Sprintf("base image %q uses ARG %s, which has no default before the first FROM, so the image is whatever the build passes", st.BaseName, strings.Join(names, ", ")),
				fmt.Sprintf("declare the ARG before the first FROM with a pinned default (ARG %s=<image>:<version>)", names[0]))
			continue
		}
		base := res.Result
		if strings.EqualFold(base, "scratch") || d.parentStage(i) >= 0 {
			continue
		}
		repo, tag, digest := dockerSplitImage(base)
		if digest != "" || (tag != "" && tag != "latest") {
			continue
		}
		what := "has no tag, so it means :latest"
		if tag == "latest" {
			what = "uses the :latest tag"
		}
		shown := base
		if base != st.BaseName {
			shown = fmt.Sprintf("%s (from %s)", base, st.BaseName)
		}
		d.add(dockerIDUnpinned, finding.Error, line,
			fmt.Sprintf("base image %s %s: builds are not reproducible and change under you", shown, what),
			fmt.Sprintf("pin a version tag (%s:<version>), ideally with its digest (%s:<version>@sha256:...)", repo, repo))
	}
}

// dockerSplitImage splits "registry:5000/a/b:tag@sha256:x" into repository,
// tag and digest.
func dockerSplitImage(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:], digest
	}
	return ref, "", digest
}

func dockerSortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- KW-DOCKER-011/012: the runtime user ----

func (d *dockerFile) checkUser() {
	final := d.final()
	for i := final; i >= 0; i = d.parentStage(i) {
		cmds := d.stages[i].Commands
		for j := len(cmds) - 1; j >= 0; j-- {
			u, ok := cmds[j].(*instructions.UserCommand)
			if !ok {
				continue
			}
			d.judgeUser(u, d.stageEnv(i, j))
			return
		}
	}
	d.add(dockerIDRootUser, finding.Error, d.fromLine(final),
		"the final stage sets no USER, so the container runs as the base image's user, usually root",
		"add `USER 10001:10001` (numeric, so Kubernetes runAsNonRoot can verify it) after the last RUN of the final stage")
}

func (d *dockerFile) judgeUser(u *instructions.UserCommand, env dockerEnv) {
	line := dockerLine(u.Location())
	val, ok := d.expand(u.User, env)
	if !ok {
		return // set by --build-arg: cannot judge
	}
	user, _, _ := strings.Cut(val, ":")
	if user == "root" || dockerIsZero(user) {
		d.add(dockerIDRootUser, finding.Error, line,
			fmt.Sprintf("the final stage runs as root (USER %s)", u.User),
			"use an unprivileged numeric user: `USER 10001:10001` (create it in the image if the base has none)")
		return
	}
	if !dockerIsNumber(user) {
		d.add(dockerIDNamedUser, finding.Warning, line,
			fmt.Sprintf("USER %s is a name: Kubernetes runAsNonRoot cannot verify a user name and refuses to start the pod", u.User),
			"use the numeric UID:GID of that user (e.g. `USER 65532:65532` for distroless nonroot, `USER 10001:10001` for one you create)")
	}
}

func dockerIsNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func dockerIsZero(s string) bool { return dockerIsNumber(s) && strings.Trim(s, "0") == "" }

// ---- KW-DOCKER-017: exec-form ENTRYPOINT and CMD ----

func (d *dockerFile) checkEntrypoint() {
	// Only the last ENTRYPOINT and the last CMD of the final stage count.
	var entry, cmd instructions.Command
	var entryLine, cmdLine instructions.ShellDependantCmdLine
	for _, c := range d.stages[d.final()].Commands {
		switch c := c.(type) {
		case *instructions.EntrypointCommand:
			entry, entryLine = c, c.ShellDependantCmdLine
		case *instructions.CmdCommand:
			cmd, cmdLine = c, c.ShellDependantCmdLine
		}
	}
	d.judgeForm(entry, entryLine)
	d.judgeForm(cmd, cmdLine)
}

func (d *dockerFile) judgeForm(c instructions.Command, line instructions.ShellDependantCmdLine) {
	if c == nil || !line.PrependShell {
		return
	}
	text := strings.TrimSpace(strings.Join(line.CmdLine, " "))
	if strings.HasPrefix(text, "exec ") {
		return // the shell replaces itself with the app
	}
	name := strings.ToUpper(c.Name())
	d.add(dockerIDShellForm, finding.Warning, dockerLine(c.Location()),
		fmt.Sprintf("%s is in shell form: /bin/sh -c runs as PID 1 and does not pass SIGTERM on to the app, so pods are killed after the grace period instead of shutting down cleanly", name),
		fmt.Sprintf("use the exec (JSON) form, e.g. %s %s (variables are not expanded there: read them in the app)", name, dockerExecForm(line.CmdLine)))
}

func dockerExecForm(words []string) string {
	fields := strings.Fields(strings.Join(words, " "))
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = strconv.Quote(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
