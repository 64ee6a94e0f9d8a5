package githubapp

import (
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

// The filter keeps exactly what internal/job acts on, with the prefix and
// trigger label the job is configured with.
func TestFilterRelevant(t *testing.T) {
	user := &github.User{Login: github.Ptr("octocat"), Type: github.Ptr("User")}
	bot := &github.User{Login: github.Ptr("kubewright[bot]"), Type: github.Ptr("Bot")}
	botByName := &github.User{Login: github.Ptr("renovate[bot]")}
	comment := func(action, body string, by *github.User) *github.IssueCommentEvent {
		return &github.IssueCommentEvent{Action: github.Ptr(action), Comment: &github.IssueComment{Body: github.Ptr(body), User: by}}
	}
	issue := func(action, label string, labels []string, by *github.User) *github.IssuesEvent {
		e := &github.IssuesEvent{Action: github.Ptr(action), Issue: &github.Issue{}, Sender: by}
		if label != "" {
			e.Label = &github.Label{Name: github.Ptr(label)}
		}
		for _, l := range labels {
			e.Issue.Labels = append(e.Issue.Labels, &github.Label{Name: github.Ptr(l)})
		}
		return e
	}
	custom := filter{prefix: "/bot", label: "deploy-me"}
	tests := []struct {
		name    string
		filter  filter
		payload any
		want    bool
		why     string // substring of the reason when not relevant
	}{
		{"command", defaultFilter(), comment("created", "/ai containerize", user), true, ""},
		{"help gets a reply, so it is kept", defaultFilter(), comment("created", "please\n/ai help", user), true, ""},
		{"unknown command gets did-you-mean, so it is kept", defaultFilter(), comment("created", "/ai contanerize", user), true, ""},
		{"free text is kept", defaultFilter(), comment("created", "/ai add a redis cache", user), true, ""},
		{"prefix in a code block is no command", defaultFilter(), comment("created", "```\n/ai containerize\n```", user), false, "no /ai command"},
		{"plain chat", defaultFilter(), comment("created", "LGTM", user), false, "no /ai command"},
		{"someone else's prefix", defaultFilter(), comment("created", "/aix containerize", user), false, "no /ai command"},
		{"edited", defaultFilter(), comment("edited", "/ai containerize", user), false, "action edited"},
		{"no action", defaultFilter(), comment("", "/ai containerize", user), false, "no action"},
		{"bot by type", defaultFilter(), comment("created", "/ai containerize", bot), false, "bot"},
		{"bot by name", defaultFilter(), comment("created", "/ai containerize", botByName), false, "bot"},
		{"configured prefix", custom, comment("created", "/bot plan", user), true, ""},
		{"default prefix under a configured one", custom, comment("created", "/ai plan", user), false, "no /bot command"},

		{"issue opened with the label", defaultFilter(), issue("opened", "", []string{"bug", "kubewright"}, user), true, ""},
		{"issue opened without it", defaultFilter(), issue("opened", "", []string{"bug"}, user), false, "trigger label kubewright"},
		{"issue given the label", defaultFilter(), issue("labeled", "kubewright", []string{"kubewright"}, user), true, ""},
		{"issue given another label while it has ours", defaultFilter(), issue("labeled", "bug", []string{"kubewright", "bug"}, user), false, "trigger label"},
		{"issue labeled by a bot", defaultFilter(), issue("labeled", "kubewright", nil, bot), false, "bot"},
		{"issue closed", defaultFilter(), issue("closed", "", []string{"kubewright"}, user), false, "action closed"},
		{"configured label", custom, issue("labeled", "deploy-me", nil, user), true, ""},
		{"labels disabled", filter{prefix: "/ai"}, issue("labeled", "kubewright", nil, user), false, "no trigger label"},

		{"pull request", defaultFilter(), &github.PullRequestEvent{Action: github.Ptr("opened")}, false, "not handled"},
		{"installation", defaultFilter(), &github.InstallationEvent{Action: github.Ptr("created")}, false, "not handled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := tc.filter.relevant(tc.payload)
			if got != tc.want || !strings.Contains(why, tc.why) || got != (why == "") {
				t.Errorf("relevant = %v %q, want %v %q", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestRelevantEvent(t *testing.T) {
	for event, want := range map[string]bool{
		"issue_comment": true, "issues": true, "ping": true,
		"pull_request": false, "pull_request_review_comment": false, "installation": false,
		"installation_repositories": false, "push": false, "": false,
	} {
		if got := relevantEvent(event); got != want {
			t.Errorf("relevantEvent(%q) = %v, want %v", event, got, want)
		}
	}
}

// The options reach the filter: a handler configured like the job drops
// what that job would drop.
func TestFilterOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want filter
	}{
		{"defaults", nil, filter{prefix: "/ai", label: "kubewright"}},
		{"configured", []Option{WithCommandPrefix("/bot"), WithTriggerLabel("deploy-me")}, filter{prefix: "/bot", label: "deploy-me"}},
		{"empty prefix keeps the default, empty label disables", []Option{WithCommandPrefix(""), WithTriggerLabel("")}, filter{prefix: "/ai"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewWebhookHandler([]byte(testSecret), &fakeSink{}, tc.opts...).(*handler)
			if h.filter != tc.want {
				t.Errorf("filter = %+v, want %+v", h.filter, tc.want)
			}
		})
	}
}
