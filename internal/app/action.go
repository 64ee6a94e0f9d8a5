package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/queue"
)

// maxEventBytes caps the event file a run reads: GitHub caps webhook
// payloads at 25 MiB, and the event file is one.
const maxEventBytes = 25 << 20

// ActionSettings is the GitHub Actions step's world: its environment
// (read once, here) and where its output goes.
type ActionSettings struct {
	// Getenv reads the runner's environment (nil: os.Getenv).
	Getenv func(string) string
	// Stdout receives workflow commands (annotations).
	Stdout io.Writer
	// Version goes into SARIF.
	Version string
	Log     *slog.Logger
}

// ActionResult is what a run found, for the step's outputs and exit
// status.
type ActionResult struct {
	Errors, Warnings int
	// SARIF is the file written (validation runs).
	SARIF string
	// PullRequestURL is the pull request opened or updated, if any.
	PullRequestURL string
	// Nothing says why there was nothing to do ("" when something ran).
	Nothing string
	// FailOn is the severity at or above which the step fails.
	FailOn finding.Severity
}

// Failed reports whether the step should fail.
func (r *ActionResult) Failed() bool {
	if r.FailOn == finding.Warning {
		return r.Errors+r.Warnings > 0
	}
	return r.Errors > 0
}

// actionEnv is the runner's environment, read once.
type actionEnv struct {
	event, eventPath, token, repo, sha, api, server, output, summary, workspace, runID string
	command, path, failOn, sarif, crds, assets                                         string
	readOnly                                                                           bool
}

func readActionEnv(getenv func(string) string) actionEnv {
	input := func(name string) string {
		// The runner passes input "fail-on" as INPUT_FAIL-ON.
		return strings.TrimSpace(getenv("INPUT_" + strings.ToUpper(name)))
	}
	e := actionEnv{
		event: getenv("GITHUB_EVENT_NAME"), eventPath: getenv("GITHUB_EVENT_PATH"), token: input("token"),
		repo: getenv("GITHUB_REPOSITORY"), sha: getenv("GITHUB_SHA"), api: getenv("GITHUB_API_URL"), server: getenv("GITHUB_SERVER_URL"),
		output: getenv("GITHUB_OUTPUT"), summary: getenv("GITHUB_STEP_SUMMARY"), workspace: getenv("GITHUB_WORKSPACE"), runID: getenv("GITHUB_RUN_ID"),
		command: input("command"), path: input("path"), failOn: input("fail-on"), sarif: input("sarif-file"), crds: input("crds"),
		assets: getenv("KUBEBUILDER_ASSETS"), readOnly: input("read-only") == "true",
	}
	if e.token == "" {
		e.token = getenv("GITHUB_TOKEN")
	}
	if e.workspace == "" {
		e.workspace = "."
	}
	if e.path == "" {
		e.path = "."
	}
	if e.failOn == "" {
		e.failOn = "error"
	}
	if e.sarif == "" {
		e.sarif = "kubewright.sarif"
	}
	if e.runID == "" {
		e.runID = "local"
	}
	return e
}

// Action runs the job the App would run for the workflow's event,
// through the same job and publish code: a pull request is reviewed, an
// issue comment runs its /ai command, a push or a manual run validates
// the checkout and writes SARIF for code scanning. With a read-only token
// (a fork's pull request) findings become annotations and the texts go to
// the job summary. The step's outputs are appended to GITHUB_OUTPUT.
func Action(ctx context.Context, s ActionSettings) (*ActionResult, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := readActionEnv(getenv)
	res := &ActionResult{}
	var err error
	if res.FailOn, err = finding.ParseSeverity(env.failOn); err != nil || res.FailOn == finding.Info {
		return nil, &SettingError{fmt.Errorf("input fail-on %q: use error or warning", env.failOn)}
	}
	if env.event == "" {
		return nil, &SettingError{errors.New("GITHUB_EVENT_NAME is not set: `kubewright action` runs as a GitHub Actions step (see action.yml)")}
	}
	summary := io.Discard
	if env.summary != "" {
		f, err := os.OpenFile(env.summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
		defer f.Close()
		summary = f
	}
	var crds []string
	if env.crds != "" {
		crds = strings.Split(env.crds, ",")
	}
	val, err := NewValidation(ctx, ValidationSettings{CRDs: crds, Assets: env.assets, PerJob: true, Log: log,
		Names: SettingNames{CRDs: "input crds", Assets: "KUBEBUILDER_ASSETS", GoProxy: "input go-proxy"}})
	if err != nil {
		return nil, &SettingError{err}
	}
	defer val.Close()

	switch {
	case env.command == "validate" || env.event == "push" || env.event == "workflow_dispatch" || env.event == "schedule":
		err = actionValidate(ctx, env, val, s.Version, summary, res)
	default:
		err = actionJob(ctx, env, val, s.Stdout, summary, log, res)
	}
	if err != nil {
		return nil, err
	}
	return res, writeOutputs(env.output, res)
}

// actionValidate validates the checkout and writes SARIF.
func actionValidate(ctx context.Context, env actionEnv, val *Validation, version string, summary io.Writer, res *ActionResult) error {
	dir := filepath.Join(env.workspace, filepath.FromSlash(env.path))
	cfg, err := config.LoadRepo(dir)
	if err != nil {
		cfg = nil // its problem is a finding of the validation
	}
	rep, err := val.Validate(ctx, dir, cfg)
	if err != nil {
		return err
	}
	res.Errors = finding.AtLeast(rep.Findings, finding.Error)
	res.Warnings = finding.AtLeast(rep.Findings, finding.Warning) - res.Errors
	res.SARIF = env.sarif
	f, err := os.Create(filepath.Join(env.workspace, filepath.FromSlash(env.sarif)))
	if err != nil {
		return fmt.Errorf("input sarif-file: %w", err)
	}
	if err := finding.WriteSARIF(f, version, rep.Findings); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pub := publish.NewWorkflow(io.Discard, summary)
	view := job.ReportView(rep)
	return pub.CheckRun(ctx, publish.Repo{}, env.sha, view)
}

// actionJob runs the event's job through job.Runner with the workflow's
// token.
func actionJob(ctx context.Context, env actionEnv, val *Validation, stdout, summary io.Writer, log *slog.Logger, res *ActionResult) error {
	if env.eventPath == "" {
		return &SettingError{errors.New("GITHUB_EVENT_PATH is not set")}
	}
	payload, err := readCapped(env.eventPath, maxEventBytes)
	if err != nil {
		return fmt.Errorf("the event file: %w", err)
	}
	event := env.event
	if event == "pull_request_target" {
		event = "pull_request" // the same review; the head is only read either way
	}
	req, why, err := githubapp.ParseRequest(event, "run-"+env.runID, payload, githubapp.RequestOptions{})
	if err != nil {
		return err
	}
	if why != "" {
		res.Nothing = why
		_, err := fmt.Fprintf(summary, "kubewright: nothing to do for this %s event: %s.\n\n", env.event, why)
		return err
	}
	readOnly := env.readOnly || forkPull(event, payload, env.repo)
	rec := &recorder{}
	opts := []job.Option{job.WithLogger(log), job.WithIdentity(job.Identity{Name: "github-actions[bot]", Email: "41898282+github-actions[bot]@users.noreply.github.com"})}
	if readOnly {
		w := publish.NewWorkflow(stdout, summary)
		opts = append(opts, job.WithPublisher(func(*github.Client, job.StatusStore) job.Publisher { rec.Publisher = w; return rec }))
	} else {
		opts = append(opts, job.WithPublisher(func(gh *github.Client, store job.StatusStore) job.Publisher {
			rec.Publisher = publish.New(gh, publish.WithStatusStore(store), publish.WithLogger(log), publish.WithBotLogin("github-actions[bot]"))
			return rec
		}))
	}
	runner := job.New(githubapp.NewTokenClients(env.token, env.server, env.api), val.Validate, opts...)
	if err := runner.Handle(ctx, queue.NewDelivery(req)); err != nil {
		return err
	}
	res.Errors, res.Warnings, res.PullRequestURL = rec.counts()
	return nil
}

// forkPull: a pull_request event whose head is in another repository,
// whose workflow token GitHub makes read-only.
func forkPull(event string, payload []byte, repo string) bool {
	if event != "pull_request" {
		return false
	}
	ev, err := github.ParseWebHook(event, payload)
	if err != nil {
		return false
	}
	pr, ok := ev.(*github.PullRequestEvent)
	if !ok {
		return false
	}
	head := pr.GetPullRequest().GetHead().GetRepo().GetFullName()
	return head != "" && !strings.EqualFold(head, repo)
}

// recorder passes everything to the publisher it wraps and remembers the
// findings reported and the pull request opened, for the outputs.
type recorder struct {
	job.Publisher
	mu       sync.Mutex
	findings []finding.Finding
	url      string
}

func (r *recorder) CheckRun(ctx context.Context, repo publish.Repo, sha string, rep *publish.Report) error {
	if rep != nil {
		r.mu.Lock()
		r.findings = append(r.findings, rep.Findings...)
		r.mu.Unlock()
	}
	return r.Publisher.CheckRun(ctx, repo, sha, rep)
}

func (r *recorder) ReviewCheckRun(ctx context.Context, repo publish.Repo, sha string, c publish.ReviewCheck) error {
	r.mu.Lock()
	r.findings = append(r.findings, c.Findings...)
	r.mu.Unlock()
	return r.Publisher.ReviewCheckRun(ctx, repo, sha, c)
}

func (r *recorder) UpsertPR(ctx context.Context, repo publish.Repo, pr publish.PullRequest) (*github.PullRequest, error) {
	out, err := r.Publisher.UpsertPR(ctx, repo, pr)
	if err == nil {
		r.mu.Lock()
		r.url = out.GetHTMLURL()
		r.mu.Unlock()
	}
	return out, err
}

func (r *recorder) counts() (errs, warns int, url string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs = finding.AtLeast(r.findings, finding.Error)
	return errs, finding.AtLeast(r.findings, finding.Warning) - errs, r.url
}

// writeOutputs appends the step's outputs to GITHUB_OUTPUT.
func writeOutputs(path string, r *ActionResult) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_OUTPUT: %w", err)
	}
	_, err = fmt.Fprintf(f, "errors=%d\nwarnings=%d\nsarif-file=%s\npull-request-url=%s\n", r.Errors, r.Warnings, r.SARIF, r.PullRequestURL)
	return errors.Join(err, f.Close())
}

// readCapped reads a file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d MiB", path, max>>20)
	}
	return b, nil
}
