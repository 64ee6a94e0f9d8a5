package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/publish"
)

func newDoCmd() *cobra.Command {
	var (
		lc          llm.Config
		budget      llm.Budget
		dryRun      bool
		maxAttempts int
		crds        []string
		assets      string
		noDryRun    bool
		format      string
		aopts       author.Options
		goProxy     string
	)
	c := &cobra.Command{
		Use:   `do "<intent>" [PATH]`,
		Short: "Carry out a free-text request with the LLM agents, validated, and write the files",
		Long: `Ask kubewright's agents for a change in your words, e.g.

  kubewright do "add an inventory service in Go backed by PostgreSQL and route /inventory to it" .
  kubewright do "put order-service behind Redis" --dry-run

The deterministic draft (what containerize writes) is the starting point; the
agent chosen from the request edits it, kubewright validates the result
(kustomize, Flux, schemas, Dockerfiles, policy, server-side dry-run when a
kube-apiserver is available, and go build/vet/test for generated Go code)
and feeds the findings to the repair agent, at most --max-attempts times.
Generated Go code is built and tested only in a sandbox (bubblewrap: no
network, none of your files or environment); without one it is not run and
the result says so. Its requirements are downloaded first, outside the
sandbox and without running any of their code, through --go-proxy.
Only a change without new errors is written, unless attempts run out, when
the failing change is written so you can finish it (exit code 1). A request
that yields no change exits 3.

The model is any OpenAI-compatible API: --llm-base-url, --llm-model and
--llm-api-key, or KUBEWRIGHT_LLM_BASE_URL, KUBEWRIGHT_LLM_MODEL and
KUBEWRIGHT_LLM_API_KEY (falling back to OPENAI_API_KEY). More variables:
KUBEWRIGHT_LLM_RESPONSE_FORMAT (auto, json_schema, json_object or none: how
the answer is constrained; auto tries json_schema and falls back),
KUBEWRIGHT_LLM_API_TYPE (openai or azure), KUBEWRIGHT_LLM_API_VERSION
(Azure) and KUBEWRIGHT_LLM_TIMEOUT (per attempt, e.g. 120s).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			root, err := pathArg(args[1:])
			if err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			prog := reporter(c)
			if prog != nil {
				lc.HTTPClient = &http.Client{Transport: &callCounter{next: http.DefaultTransport, p: prog}}
			}
			ch, err := app.Do(c.Context(), app.DoSettings{
				Intent: args[0], Root: root, LLM: lc, Budget: budget, MaxAttempts: maxAttempts, DryRun: dryRun, Author: aopts,
				CRDs: crds, Assets: assets, NoDryRun: noDryRun, GoProxy: goProxy, Progress: prog,
				Warn: func(msg string) { fmt.Fprintf(c.ErrOrStderr(), "warning: %s\n", msg) },
			})
			if app.IsSettingError(err) {
				return usageErr("%v", err)
			}
			if err != nil {
				return &exitError{code: exitFail, err: err}
			}
			res := ch.Run
			out := c.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				printDo(out, ch, dryRun)
			}
			switch res.Outcome {
			case job.Valid:
				return nil
			case job.Nothing, job.Stopped:
				if len(res.Files) > 0 {
					return nil
				}
				if res.Outcome == job.Nothing {
					return nothingErr("%s", outcomeLine(res))
				}
			}
			return &exitError{code: exitFail, err: fmt.Errorf("%s", outcomeLine(res))}
		},
	}
	f := c.Flags()
	f.StringVar(&lc.BaseURL, "llm-base-url", "", "OpenAI-compatible API base URL (default $KUBEWRIGHT_LLM_BASE_URL, else https://api.openai.com/v1)")
	f.StringVar(&lc.Model, "llm-model", "", "model name, or Azure deployment (default $KUBEWRIGHT_LLM_MODEL)")
	f.StringVar(&lc.APIKey, "llm-api-key", "", "API key (default $KUBEWRIGHT_LLM_API_KEY, else $OPENAI_API_KEY); prefer the variable")
	f.IntVar(&budget.PerJob, "max-tokens", 200000, "token budget for the whole request (prompt + completion)")
	f.IntVar(&budget.PerCall, "max-completion-tokens", 16000, "completion tokens per model call")
	f.IntVar(&maxAttempts, "max-attempts", 0, "validate-and-repair rounds (default agents.maxAttempts, else 3)")
	f.BoolVar(&dryRun, "dry-run", false, "print the unified diff and write nothing")
	f.StringArrayVar(&crds, "crds", nil, "file or directory of CRDs (repeatable; default $KUBEWRIGHT_CRDS)")
	f.StringVar(&assets, "assets", "", "directory with kube-apiserver and etcd for the dry-run (default $KUBEBUILDER_ASSETS)")
	f.BoolVar(&noDryRun, "no-dry-run", false, "skip the server-side dry-run stage")
	f.StringVar(&format, "format", "text", "output format: text or json")
	f.StringVar(&goProxy, "go-proxy", "", "GOPROXY for generated Go modules' requirements, downloaded outside the sandbox; off = none (default $KUBEWRIGHT_GOPROXY, else go env GOPROXY)")
	f.StringVar(&aopts.Registry, "registry", "", "image registry prefix for the draft, e.g. ghcr.io/acme")
	f.StringVar(&aopts.IngressHost, "ingress-host", "", "DNS suffix for user-facing services")
	f.StringVar(&aopts.Env, "env", "", "GitOps environment overlay (default production)")
	return c
}

func outcomeLine(r *job.AgentRun) string {
	switch r.Outcome {
	case job.Valid:
		return "the change passed validation"
	case job.Failing:
		return "validation still fails after the repair attempts; the change was written so you can finish it"
	}
	return publish.Sentence(r.Reason)
}

func printDo(out io.Writer, ch *job.Change, dryRun bool) {
	r, applied := ch.Run, len(ch.Run.Files) > 0
	if applied && dryRun {
		fmt.Fprint(out, ch.Diff)
		if ch.Diff != "" {
			fmt.Fprintln(out)
		}
	}
	outcome := string(r.Outcome)
	if r.Failure != "" {
		outcome += ", " + r.Failure
	}
	fmt.Fprintf(out, "Request: %s\nAgent:   %s\nOutcome: %s (%s)\n", r.Intent, r.Agent, outcome, outcomeLine(r))
	if r.Summary != "" {
		fmt.Fprintf(out, "\n%s\n", r.Summary)
	}
	if len(r.Attempts) > 0 {
		fmt.Fprintln(out, "\nAttempts")
		for _, a := range r.Attempts {
			fmt.Fprintf(out, "  %d %-24s %2d changed  %d refused  %d new findings  %d+%d tokens\n", a.N, a.Agent, len(a.Changed), len(a.Refused), len(a.Findings), a.Usage.PromptTokens, a.Usage.CompletionTokens)
			for _, x := range a.Refused {
				fmt.Fprintf(out, "      refused %s %s: %s\n", x.Action, x.Path, x.Reason)
			}
			for _, f := range a.Findings {
				fmt.Fprintf(out, "      %s:%d %s %s\n", f.File, f.Line, f.ID, f.Message)
			}
		}
	}
	if applied {
		title := "Files"
		if dryRun {
			title = "Files (dry run: nothing written)"
		}
		fmt.Fprintf(out, "\n%s\n", title)
		for _, f := range ch.Files {
			fmt.Fprintf(out, "  %-9s %s\n", f.Action, f.Path)
		}
	}
	for _, s := range []struct {
		title string
		items []string
	}{{"Assumptions", r.Assumptions}, {"Risks", r.Risks}} {
		if len(s.items) > 0 {
			fmt.Fprintf(out, "\n%s\n", s.title)
			for _, a := range s.items {
				fmt.Fprintf(out, "  - %s\n", a)
			}
		}
	}
	fmt.Fprintf(out, "\n%d model calls, %d prompt + %d completion tokens, %d secrets redacted from prompts\n", len(r.Calls), r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Redactions)
}
