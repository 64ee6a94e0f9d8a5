package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/appmanifest"
)

func newAppCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "app",
		Short: "Create kubewright's GitHub App",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(newAppCreateCmd())
	return c
}

func newAppCreateCmd() *cobra.Command {
	s := app.AppCreateSettings{
		Manifest:  filepath.Join("deploy", "github-app.yaml"),
		GitHubURL: appmanifest.DefaultGitHubURL,
		Listen:    appmanifest.DefaultListen,
		Out:       filepath.Join(".kubewright", "app"),
		Timeout:   10 * time.Minute,
	}
	c := &cobra.Command{
		Use:   "create",
		Short: "Create the GitHub App from its manifest and save its credentials",
		Long: `Create kubewright's GitHub App with GitHub's App manifest flow. It serves
a page on --listen (this machine only) that posts deploy/github-app.yaml
to GitHub's new-App page; you name the App there and create it, GitHub
sends you back to the page with a one-use code, and kubewright exchanges
it for the App's ID, private key and secrets. They are written to --out,
each in its own file readable by you only, with app.env holding the
variables kubewright serve reads. The command exits once the App is
created, or after --timeout.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			stderr := c.ErrOrStderr()
			s.Announce = func(page string) {
				where := strings.TrimSuffix(s.GitHubURL, "/")
				if s.Org != "" {
					where += " for the organization " + s.Org
				}
				fmt.Fprintf(stderr, "kubewright: open %s in your browser to create the GitHub App on %s (waiting up to %s)\n", page, where, s.Timeout)
			}
			res, err := app.CreateApp(c.Context(), s)
			if app.IsSettingError(err) {
				return usageErr("%v", err)
			}
			if err != nil {
				return &exitError{code: exitFail, err: err}
			}
			printCreated(c.OutOrStdout(), res)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&s.Manifest, "manifest", s.Manifest, "the App manifest, YAML")
	f.StringVar(&s.Name, "name", "", "the App's name (default: the manifest's; unique on GitHub, at most 34 characters)")
	f.StringVar(&s.WebhookURL, "webhook-url", "", "where GitHub delivers webhooks, https://<your host>/webhook (default: the manifest's hook_attributes.url)")
	f.StringVar(&s.Org, "org", "", "create the App under this organization (default: your account)")
	f.StringVar(&s.GitHubURL, "github-url", s.GitHubURL, "GitHub's address (GitHub Enterprise Server: https://HOST)")
	f.StringVar(&s.APIURL, "api-url", "", "GitHub's REST API (default: "+appmanifest.DefaultAPIURL+", or --github-url/api/v3 for GitHub Enterprise Server)")
	f.StringVar(&s.Listen, "listen", s.Listen, "loopback address of the local page GitHub sends you back to")
	f.StringVar(&s.Out, "out", s.Out, "directory for the App's ID, private key and secrets")
	f.BoolVar(&s.Force, "force", false, "replace the files in --out")
	f.DurationVar(&s.Timeout, "timeout", s.Timeout, "give up when no App was created by then")
	return c
}

// printCreated says what was created and where its credentials are:
// paths only, never a secret.
func printCreated(w io.Writer, res *appmanifest.Result) {
	a := res.App
	fmt.Fprintf(w, "Created the GitHub App %s (ID %d), owned by %s: %s\n", a.Slug, a.ID, a.Owner, a.HTMLURL)
	fmt.Fprintln(w, "Wrote, readable by you only:")
	env := ""
	for _, p := range res.Files {
		fmt.Fprintf(w, "  %s\n", p)
		if filepath.Base(p) == appmanifest.FileEnv {
			env = p
		}
	}
	if a.WebhookSecret == "" {
		fmt.Fprintln(w, "GitHub sent no webhook secret: set one of at least 16 characters on the App's settings page and give it to kubewright serve (KUBEWRIGHT_WEBHOOK_SECRET).")
	}
	fmt.Fprintf(w, "Next: install it on your repositories at %s/installations/new\n", strings.TrimSuffix(a.HTMLURL, "/"))
	fmt.Fprintf(w, "Then run the server with them: set -a; . %s; set +a; kubewright serve\n", env)
}
