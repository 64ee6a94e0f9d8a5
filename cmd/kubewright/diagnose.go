package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/finding"
)

func newDiagnoseCmd() *cobra.Command {
	var (
		s      app.DiagnoseSettings
		format string
	)
	c := &cobra.Command{
		Use:   "diagnose [SERVICE] [flags]",
		Short: "Find why a service fails in a cluster, read-only, and the repository lines to change",
		Long: `Diagnose a service running in a cluster, the way an on-call engineer would,
without changing anything: its workloads, Pods, events, Services and
endpoints, claims, autoscalers, nodes, the Flux objects that apply it, and
the last log lines of the containers that fail. Each finding (KW-DIAG-*)
comes with its evidence, a hint, and the file and line of the repository
(the current directory, or --repo) that defines the object at fault.
Without SERVICE, every workload of the namespace is diagnosed.

The cluster is reached as kubectl reaches it: --kubeconfig, else KUBECONFIG,
else ~/.kube/config, else the Pod's ServiceAccount; --context picks a
context. The namespace is --namespace, else the context's, else the one
the repository's manifests put SERVICE in. deploy/base ships a read-only
ClusterRole with exactly what diagnose reads.

With a model (--llm-model, or KUBEWRIGHT_LLM_MODEL, as for kubewright do)
the findings, the objects and the logs, redacted, go to it, and it ranks the
likely root cause; an answer that does not hold is dropped with a note.
--notify URL (or KUBEWRIGHT_NOTIFY_URL) posts a summary to a Slack-compatible
incoming webhook.

Exit status: 0 no error finding, 1 error findings, 2 usage or runtime error
(the notification failing included).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				s.Service = args[0]
			}
			switch format {
			case diagnose.FormatText, diagnose.FormatJSON, diagnose.FormatMarkdown:
			default:
				return usageErr("--format %q: use text, json or markdown", format)
			}
			quiet, _ := c.Flags().GetBool("quiet")
			res, err := app.Diagnose(c.Context(), s)
			var notifyErr *app.NotifyError
			switch {
			case app.IsSettingError(err):
				return usageErr("%v", err)
			case err != nil && !errors.As(err, &notifyErr):
				return err
			}
			if !quiet && res.NamespaceFrom == "repository" {
				fmt.Fprintf(c.ErrOrStderr(), "kubewright: namespace %s, where the repository's manifests put %s\n", res.Namespace, res.Service)
			}
			if err := diagnose.Write(c.OutOrStdout(), res.Report, format); err != nil {
				return err
			}
			if notifyErr != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("the diagnosis was not posted: %w", notifyErr)}
			}
			if !quiet && res.Notified != "" {
				fmt.Fprintf(c.ErrOrStderr(), "kubewright: summary posted to %s\n", res.Notified)
			}
			fs := make([]finding.Finding, len(res.Findings))
			for i, f := range res.Findings {
				fs[i] = f.Finding
			}
			if n := finding.AtLeast(fs, finding.Error); n > 0 {
				return &exitError{code: exitFail, err: fmt.Errorf("the diagnosis found %d errors", n)}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&s.Kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	f.StringVar(&s.Context, "context", "", "kubeconfig context (default its current context)")
	f.StringVarP(&s.Namespace, "namespace", "n", "", "namespace (default the context's, else the repository's for SERVICE)")
	f.StringVar(&s.Repo, "repo", "", "repository the findings are traced to (default the current directory)")
	f.StringVar(&format, "format", "text", "output format: text, json or markdown")
	f.StringVar(&s.LLM.BaseURL, "llm-base-url", "", "OpenAI-compatible API base URL (default $KUBEWRIGHT_LLM_BASE_URL, else https://api.openai.com/v1)")
	f.StringVar(&s.LLM.Model, "llm-model", "", "model that ranks the root cause (default $KUBEWRIGHT_LLM_MODEL; none: the rules only)")
	f.StringVar(&s.LLM.APIKey, "llm-api-key", "", "API key (default $KUBEWRIGHT_LLM_API_KEY, else $OPENAI_API_KEY); prefer the variable")
	f.IntVar(&s.Budget.PerJob, "max-tokens", 80000, "token budget for the root cause (prompt + completion, the corrective retry included)")
	f.IntVar(&s.Budget.PerCall, "max-completion-tokens", 4000, "completion tokens per model call")
	f.StringVar(&s.NotifyURL, "notify", "", "Slack-compatible incoming webhook URL to post the summary to (default $KUBEWRIGHT_NOTIFY_URL); prefer the variable")
	return c
}
