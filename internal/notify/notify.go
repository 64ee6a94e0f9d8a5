// Package notify posts short messages to a Slack-compatible incoming
// webhook (Slack, Mattermost, Rocket.Chat and the many chat tools that
// accept Slack's {"text": ...} body): a diagnosis summary, for now.
//
// A webhook URL is a secret (whoever has it can post), so it never
// appears in an error or a log: errors name its host only. Messages are
// bounded, redacted once more before they leave, and sent with a 10 s
// deadline, over https (or plain http to a loopback address, for tests
// and local relays).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubewright/kubewright/internal/redact"
)

// Timeout bounds one post, the answer included.
const Timeout = 10 * time.Second

// Bounds on a message. Slack truncates a section's text at 3,000
// characters and a message's at 40,000; a body stays far below.
const (
	MaxBody      = 32 << 10
	maxBlockText = 3000
	maxBlocks    = 20
	maxAnswer    = 4 << 10
)

// Message is an incoming-webhook body: Text (mrkdwn) is what every
// client shows, Blocks the richer layout of those that read them.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is a section (Text) or a context line (Elements).
type Block struct {
	Type     string       `json:"type"`
	Text     *TextObject  `json:"text,omitempty"`
	Elements []TextObject `json:"elements,omitempty"`
}

// TextObject is mrkdwn text.
type TextObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Section is a section block of mrkdwn text.
func Section(text string) Block {
	return Block{Type: "section", Text: &TextObject{Type: "mrkdwn", Text: text}}
}

// Context is a context block: one line of small mrkdwn text.
func Context(text string) Block {
	return Block{Type: "context", Elements: []TextObject{{Type: "mrkdwn", Text: text}}}
}

// Webhook posts to one incoming-webhook URL.
type Webhook struct {
	url    *url.URL
	host   string
	client *http.Client
}

// New checks rawURL (https, or http to a loopback address) and returns a
// Webhook for it. Its errors never show the URL's path or query, which
// carry the webhook's secret.
func New(rawURL string) (*Webhook, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("the notify URL is not a valid URL: give the webhook's https URL (for Slack, https://hooks.slack.com/services/...)")
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(host) {
			return nil, fmt.Errorf("the notify URL uses plain http to %s, which is not a loopback address: use its https URL (http is accepted only for 127.0.0.1, ::1 and localhost)", host)
		}
	default:
		return nil, fmt.Errorf("the notify URL's scheme %q is not https: give the webhook's https URL", clip(u.Scheme, 20))
	}
	if u.User != nil {
		return nil, fmt.Errorf("the notify URL for %s carries a user and password: give the webhook URL alone", host)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{
		Timeout:   Timeout,
		Transport: tr,
		// A redirect could lead anywhere, plain http included: the
		// webhook's own URL is the only one posted to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Webhook{url: u, host: u.Host, client: client}, nil
}

// loopback tells whether host is 127.0.0.0/8, ::1 or localhost.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Host is the webhook's host, which is safe to show.
func (w *Webhook) Host() string { return w.host }

// Post sends m: redacted again, bounded (blocks dropped, then the text
// cut, to fit MaxBody), within Timeout. A non-2xx answer is an error
// naming the status and the start of the answer.
func (w *Webhook) Post(ctx context.Context, m Message) error {
	body, err := encode(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify %s: %s", w.host, w.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "kubewright-notify")
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error's text is the whole URL
		}
		return fmt.Errorf("notify %s: the post failed: %s", w.host, w.scrub(err.Error()))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(strings.ToValidUTF8(string(answer), "?"))
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		msg, _ = redact.Text(msg)
		return fmt.Errorf("notify %s: the webhook answered %d: %s (check the URL, and that the webhook is still enabled)", w.host, resp.StatusCode, clip(w.scrub(oneLine(msg)), 300))
	}
	return nil
}

// scrub removes the URL, its path and its query from s.
func (w *Webhook) scrub(s string) string {
	for _, secret := range []string{w.url.String(), w.url.EscapedPath(), w.url.Path, w.url.RawQuery} {
		if len(secret) > 1 {
			s = strings.ReplaceAll(s, secret, "[webhook URL]")
		}
	}
	return s
}

// encode redacts and bounds m, and marshals it.
func encode(m Message) ([]byte, error) {
	m.Text = bound(m.Text, MaxBody/2)
	blocks := make([]Block, 0, min(len(m.Blocks), maxBlocks))
	for i, b := range m.Blocks {
		if i == maxBlocks {
			break
		}
		if b.Text != nil {
			t := *b.Text
			t.Text = bound(t.Text, maxBlockText)
			b.Text = &t
		}
		els := make([]TextObject, len(b.Elements))
		for j, e := range b.Elements {
			e.Text = bound(e.Text, maxBlockText)
			els[j] = e
		}
		b.Elements = els
		blocks = append(blocks, b)
	}
	m.Blocks = blocks
	for {
		body, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("notify: encode the message: %w", err)
		}
		if len(body) <= MaxBody {
			return body, nil
		}
		if len(m.Blocks) > 0 {
			m.Blocks = nil
			continue
		}
		m.Text = clip(m.Text, len(m.Text)*MaxBody/len(body)-64)
	}
}

// bound redacts s and cuts it to n bytes.
func bound(s string, n int) string {
	s, _ = redact.Text(strings.ToValidUTF8(s, "?"))
	return clip(s, n)
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n-len("…"), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Escape makes text inert in mrkdwn: &, < and > are escaped, so it
// cannot link, mention anyone or notify a channel (those all need <...>),
// and a backtick cannot end the code span it is shown in.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}
