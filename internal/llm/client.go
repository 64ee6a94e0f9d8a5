package llm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Response formats: how the client asks for structured output.
const (
	// FormatAuto sends json_schema and falls back to json_object, then to
	// plain text, when the server rejects it; the fallback is remembered
	// for the life of the Client.
	FormatAuto = "auto"
	// FormatJSONSchema always sends the json_schema response format.
	FormatJSONSchema = "json_schema"
	// FormatJSONObject sends the json_object response format and puts the
	// schema in the system message.
	FormatJSONObject = "json_object"
	// FormatNone sends no response format and puts the schema in the
	// system message; the answer is parsed strictly.
	FormatNone = "none"
)

// API types.
const (
	APITypeOpenAI = "openai"
	// APITypeAzure is Azure OpenAI: the model names the deployment, the
	// key goes in the api-key header and APIVersion is sent as api-version.
	APITypeAzure = "azure"
)

// Defaults applied by [New] to zero Config fields.
const (
	DefaultBaseURL         = "https://api.openai.com/v1"
	DefaultTimeout         = 120 * time.Second
	DefaultMaxRetries      = 4
	DefaultMaxBackoff      = 60 * time.Second
	DefaultAzureAPIVersion = "2024-10-21"
)

// Environment variables read by [ConfigFromEnv].
const (
	EnvBaseURL        = "KUBEWRIGHT_LLM_BASE_URL"
	EnvModel          = "KUBEWRIGHT_LLM_MODEL"
	EnvAPIKey         = "KUBEWRIGHT_LLM_API_KEY"
	EnvOpenAIAPIKey   = "OPENAI_API_KEY"
	EnvResponseFormat = "KUBEWRIGHT_LLM_RESPONSE_FORMAT"
	EnvAPIType        = "KUBEWRIGHT_LLM_API_TYPE"
	EnvAPIVersion     = "KUBEWRIGHT_LLM_API_VERSION"
	EnvTimeout        = "KUBEWRIGHT_LLM_TIMEOUT"
)

// Config says which provider to talk to and how.
type Config struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1 (the
	// default), http://127.0.0.1:11434/v1 for Ollama, or the resource
	// endpoint https://NAME.openai.azure.com for Azure.
	BaseURL string
	// Model is the model name, or the deployment name for Azure.
	Model string
	// APIKey is sent as a bearer token (api-key header for Azure). It is
	// never logged nor put in an error.
	APIKey string
	// Timeout bounds each HTTP attempt, reading the answer included
	// (default 120s).
	Timeout time.Duration
	// MaxRetries is how often a call is retried after a 408, 409, 429, 5xx
	// or network error (0: the default 4; negative: never).
	MaxRetries int
	// MaxBackoff caps every wait between attempts, Retry-After included
	// (default 60s).
	MaxBackoff time.Duration
	// ResponseFormat is FormatAuto (the default), FormatJSONSchema,
	// FormatJSONObject or FormatNone.
	ResponseFormat string
	// APIType is APITypeOpenAI (the default) or APITypeAzure.
	APIType string
	// APIVersion is sent as the api-version query parameter (Azure:
	// default 2024-10-21, the first GA version with structured outputs).
	APIVersion string
	// HTTPClient, when set, is used for the requests; its transport is
	// wrapped with the retries and per-attempt timeout.
	HTTPClient *http.Client

	// badTimeout holds an unparsable KUBEWRIGHT_LLM_TIMEOUT for Check.
	badTimeout string
}

// ConfigFromEnv reads the KUBEWRIGHT_LLM_* variables (and OPENAI_API_KEY
// when KUBEWRIGHT_LLM_API_KEY is unset). Call [Config.Check] on the result:
// a malformed value is reported there.
func ConfigFromEnv(getenv func(string) string) Config {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		BaseURL:        get(EnvBaseURL),
		Model:          get(EnvModel),
		APIKey:         get(EnvAPIKey),
		ResponseFormat: strings.ToLower(get(EnvResponseFormat)),
		APIType:        strings.ToLower(get(EnvAPIType)),
		APIVersion:     get(EnvAPIVersion),
	}
	if c.APIKey == "" {
		c.APIKey = get(EnvOpenAIAPIKey)
	}
	if s := get(EnvTimeout); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			c.badTimeout = s
		} else {
			c.Timeout = d
		}
	}
	return c
}

// Enabled reports whether a provider is configured (a model is set).
func (c Config) Enabled() bool { return strings.TrimSpace(c.Model) != "" }

// Check reports every missing or malformed setting, each naming the
// environment variable to set.
func (c Config) Check() error {
	var errs []error
	if !c.Enabled() {
		errs = append(errs, fmt.Errorf("llm: no model configured: set %s to the model name (the deployment name for Azure)", EnvModel))
	}
	switch c.APIType {
	case "", APITypeOpenAI, APITypeAzure:
	default:
		errs = append(errs, fmt.Errorf("llm: API type %q is unknown: set %s to %s or %s", c.APIType, EnvAPIType, APITypeOpenAI, APITypeAzure))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("llm: %s is not a valid URL: give one such as %s or http://127.0.0.1:11434/v1", EnvBaseURL, DefaultBaseURL))
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("llm: %s %q is not an http(s) URL: give one such as %s or http://127.0.0.1:11434/v1", EnvBaseURL, u.Redacted(), DefaultBaseURL))
		}
	} else if c.APIType == APITypeAzure {
		errs = append(errs, fmt.Errorf("llm: Azure needs its endpoint: set %s to https://RESOURCE.openai.azure.com", EnvBaseURL))
	}
	if c.APIKey == "" && (c.APIType == APITypeAzure || c.BaseURL == "" || strings.TrimRight(c.BaseURL, "/") == DefaultBaseURL) {
		errs = append(errs, fmt.Errorf("llm: no API key: set %s (or %s)", EnvAPIKey, EnvOpenAIAPIKey))
	}
	switch c.ResponseFormat {
	case "", FormatAuto, FormatJSONSchema, FormatJSONObject, FormatNone:
	default:
		errs = append(errs, fmt.Errorf("llm: response format %q is unknown: set %s to %s, %s, %s or %s",
			c.ResponseFormat, EnvResponseFormat, FormatAuto, FormatJSONSchema, FormatJSONObject, FormatNone))
	}
	if c.badTimeout != "" {
		errs = append(errs, fmt.Errorf("llm: %s %q is not a positive duration: give one such as 90s or 3m", EnvTimeout, c.badTimeout))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("llm: timeout %v is negative: set %s to a positive duration such as 90s", c.Timeout, EnvTimeout))
	}
	if c.MaxBackoff < 0 {
		errs = append(errs, fmt.Errorf("llm: maximum backoff %v is negative", c.MaxBackoff))
	}
	return errors.Join(errs...)
}

// String describes the configuration without the API key.
func (c Config) String() string {
	key := "unset"
	if c.APIKey != "" {
		key = "set"
	}
	base := c.BaseURL
	if u, err := url.Parse(base); err == nil {
		base = u.Redacted()
	}
	return fmt.Sprintf("llm.Config{BaseURL: %q, Model: %q, APIKey: %s, APIType: %q, APIVersion: %q, ResponseFormat: %q, Timeout: %v, MaxRetries: %d, MaxBackoff: %v}",
		base, c.Model, key, c.APIType, c.APIVersion, c.ResponseFormat, c.Timeout, c.MaxRetries, c.MaxBackoff)
}

// GoString is String, so %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.APIType == "" {
		c.APIType = APITypeOpenAI
	}
	if c.APIType == APITypeAzure && c.APIVersion == "" {
		c.APIVersion = DefaultAzureAPIVersion
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.ResponseFormat == "" {
		c.ResponseFormat = FormatAuto
	}
	return c
}

// Structured-output modes, in fallback order.
const (
	modeSchema int32 = iota
	modeObject
	modeNone
)

var modeNames = [...]string{modeSchema: FormatJSONSchema, modeObject: FormatJSONObject, modeNone: FormatNone}

// Client proposes edits through an OpenAI-compatible chat completions API.
// It is safe for concurrent use.
type Client struct {
	cfg Config
	oc  *openai.Client
	rt  *retryTransport
	// mode is the structured-output mode calls start with; in auto mode it
	// only moves down (schema, object, none) as the server rejects them.
	mode atomic.Int32
	// answered is set once the provider answered a call successfully.
	answered atomic.Bool
}

// New checks cfg, applies the defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	rt := &retryTransport{
		base:       base,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		maxBackoff: cfg.MaxBackoff,
		sleep:      sleepCtx,
	}
	hc.Transport = rt

	var oc openai.ClientConfig
	if cfg.APIType == APITypeAzure {
		oc = openai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		// The model is the deployment name, as given.
		oc.AzureModelMapperFunc = nil
	} else {
		oc = openai.DefaultConfig(cfg.APIKey)
		oc.BaseURL = cfg.BaseURL
	}
	oc.APIVersion = cfg.APIVersion
	oc.HTTPClient = hc

	c := &Client{cfg: cfg, oc: openai.NewClientWithConfig(oc), rt: rt}
	switch cfg.ResponseFormat {
	case FormatJSONObject:
		c.mode.Store(modeObject)
	case FormatNone:
		c.mode.Store(modeNone)
	default:
		c.mode.Store(modeSchema)
	}
	return c, nil
}

// Config returns the configuration in use, defaults applied.
func (c *Client) Config() Config { return c.cfg }

// answer is what one chat completion returned.
type answer struct {
	content string
	finish  string
	refusal string
}

// Propose asks the model for a [Proposal]. It checks req.Meter's budgets
// before each call and records each answer's usage with it. An answer
// that does not parse gets one corrective retry; if that fails too the
// error wraps [ErrMalformed]. The returned Usage sums every call made.
//
// When an answer arrived but pushed a budget over its limit, Propose
// returns the proposal together with an error wrapping [ErrBudget]: the
// caller may keep the work and must stop asking.
func (c *Client) Propose(ctx context.Context, req Request) (*Proposal, Usage, error) {
	agent := req.Agent
	if agent == "" {
		agent = "agent"
	}
	maxCompletion := req.MaxCompletionTokens
	if maxCompletion <= 0 && req.Meter != nil {
		maxCompletion = req.Meter.CallCap()
	}
	if maxCompletion < 0 {
		maxCompletion = 0
	}
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: req.System},
		{Role: openai.ChatMessageRoleUser, Content: req.User},
	}

	var total Usage
	ans, u, afterErr, err := c.call(ctx, agent, req.Meter, msgs, maxCompletion)
	total = total.Add(u)
	if err != nil {
		return nil, total, err
	}
	p, perr := parseAnswer(ans)
	switch {
	case perr == nil && afterErr == nil:
		return p, total, nil
	case perr == nil:
		return p, total, afterErr
	case afterErr != nil:
		return nil, total, fmt.Errorf("%w (and the answer was not a valid proposal: %v)", afterErr, perr)
	case ans.refusal != "":
		return nil, total, fmt.Errorf("llm %s: %w: the model refused: %s", agent, ErrMalformed, clip(ans.refusal, 300))
	}

	prior := ans.content
	if strings.TrimSpace(prior) == "" {
		prior = "(empty answer)"
	}
	msgs = append(msgs,
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: prior},
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: correction(perr, ans.finish)},
	)
	ans, u, afterErr, err = c.call(ctx, agent, req.Meter, msgs, maxCompletion)
	total = total.Add(u)
	if err != nil {
		return nil, total, err
	}
	p, perr = parseAnswer(ans)
	switch {
	case perr != nil && afterErr != nil:
		return nil, total, fmt.Errorf("llm %s: %w after a corrective retry: %v; %w", agent, ErrMalformed, perr, afterErr)
	case perr != nil:
		return nil, total, fmt.Errorf("llm %s: %w after a corrective retry: %v", agent, ErrMalformed, perr)
	case afterErr != nil:
		return p, total, afterErr
	}
	return p, total, nil
}

// correction is the user message of the corrective retry.
func correction(perr error, finish string) string {
	var b strings.Builder
	b.WriteString("Your previous answer could not be used: ")
	b.WriteString(perr.Error())
	b.WriteString(".\n")
	if finish == string(openai.FinishReasonLength) {
		b.WriteString("It was cut off at the completion token limit: keep the answer shorter (fewer or smaller edits).\n")
	}
	b.WriteString("Answer again with only the corrected JSON object matching the schema: no prose, no code fence.")
	return b.String()
}

// parseAnswer parses one answer's content.
func parseAnswer(a answer) (*Proposal, error) {
	if a.refusal != "" && strings.TrimSpace(a.content) == "" {
		return nil, fmt.Errorf("the model refused: %s", clip(a.refusal, 300))
	}
	p, err := ParseProposal(a.content)
	if err != nil && a.finish == string(openai.FinishReasonLength) {
		return nil, fmt.Errorf("the answer was cut off at the completion token limit: %w", err)
	}
	return p, err
}

// call makes one chat completion: it checks the budget, sends the request
// in the current structured-output mode (falling back in auto mode when
// the server rejects it) and records the usage. afterErr is the meter's
// verdict on the usage; err means there is no answer.
func (c *Client) call(ctx context.Context, agent string, meter *Meter, msgs []openai.ChatCompletionMessage, maxCompletion int) (ans answer, u Usage, afterErr, err error) {
	mode := c.mode.Load()
	est := estimateTokens(c.messages(msgs, mode), mode)
	if meter != nil {
		if err := meter.Before(agent, est, maxCompletion); err != nil {
			// The meter's errors name the agent already.
			return answer{}, Usage{}, nil, err
		}
	}
	for {
		resp, err := c.oc.CreateChatCompletion(withBodyFields(ctx, c.extraFields()), c.request(msgs, mode, maxCompletion))
		if err != nil {
			if next, ok := c.fallBack(mode, err); ok {
				mode = next
				continue
			}
			return answer{}, Usage{}, nil, c.wrapError(agent, err)
		}
		c.answered.Store(true)
		c.lowerMode(mode)

		if len(resp.Choices) > 0 {
			ch := resp.Choices[0]
			ans = answer{content: ch.Message.Content, finish: string(ch.FinishReason), refusal: ch.Message.Refusal}
		}
		u = Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens}
		if u.PromptTokens == 0 && u.CompletionTokens == 0 {
			// The server reported no usage: count our estimate rather than
			// nothing, so budgets still hold.
			u = Usage{PromptTokens: est, CompletionTokens: ceilDiv(len(ans.content), 3)}
		}
		if meter != nil {
			afterErr = meter.After(agent, u)
		}
		return ans, u, afterErr, nil
	}
}

// lowerMode remembers a mode that worked when it is below the current one.
func (c *Client) lowerMode(m int32) {
	for {
		cur := c.mode.Load()
		if m <= cur || c.mode.CompareAndSwap(cur, m) {
			return
		}
	}
}

// fallBack decides whether err is the server rejecting the structured
// output mode, and returns the next mode to try. Only auto mode falls
// back. A rejection that names the response format is remembered at once;
// a bare 400/422 before any call succeeded is tried in the next mode and
// remembered only if that mode works.
func (c *Client) fallBack(mode int32, err error) (int32, bool) {
	if c.cfg.ResponseFormat != FormatAuto || mode >= modeNone {
		return 0, false
	}
	status, msg := providerStatus(err)
	if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		return 0, false
	}
	m := strings.ToLower(msg)
	if strings.Contains(m, "response_format") || strings.Contains(m, "response format") ||
		strings.Contains(m, "json_schema") || strings.Contains(m, "json_object") {
		c.lowerMode(mode + 1)
		return mode + 1, true
	}
	if !c.answered.Load() {
		return mode + 1, true
	}
	return 0, false
}

// messages returns the messages as sent in mode: without the json_schema
// response format, the system message carries the schema.
func (c *Client) messages(msgs []openai.ChatCompletionMessage, mode int32) []openai.ChatCompletionMessage {
	if mode == modeSchema {
		return msgs
	}
	out := append([]openai.ChatCompletionMessage(nil), msgs...)
	out[0].Content += "\n\nAnswer with one JSON object matching this JSON Schema, and nothing else:\n" + ProposalSchemaJSON()
	return out
}

func (c *Client) request(msgs []openai.ChatCompletionMessage, mode int32, maxCompletion int) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{
		Model:    c.cfg.Model,
		Messages: c.messages(msgs, mode),
	}
	if maxCompletion > 0 {
		if reasoningModel(c.cfg.Model) {
			r.MaxCompletionTokens = maxCompletion
		} else {
			// Most OpenAI-compatible servers know only max_tokens.
			r.MaxTokens = maxCompletion
		}
	}
	switch mode {
	case modeSchema:
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:   schemaName,
				Schema: ProposalSchema,
				Strict: true,
			},
		}
	case modeObject:
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return r
}

// extraFields are request fields go-openai cannot express: it omits a zero
// temperature, and servers default to 1.
func (c *Client) extraFields() map[string]json.RawMessage {
	if reasoningModel(c.cfg.Model) {
		// Reasoning models accept no temperature but the default.
		return nil
	}
	return map[string]json.RawMessage{"temperature": json.RawMessage("0")}
}

// reasoningModel reports OpenAI's reasoning models, which take
// max_completion_tokens and no temperature (go-openai enforces both).
func reasoningModel(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// estimateTokens guesses the prompt tokens of msgs: three bytes a token,
// rounded up, plus a few tokens a message (and the schema when it is sent
// as the response format).
func estimateTokens(msgs []openai.ChatCompletionMessage, mode int32) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	if mode == modeSchema {
		n += len(ProposalSchema)
	}
	return ceilDiv(n, 3) + 4*len(msgs) + 3
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// providerStatus extracts the HTTP status and message of a go-openai error.
func providerStatus(err error) (int, string) {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode, apiErr.Message
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		msg := strings.TrimSpace(string(reqErr.Body))
		if msg == "" {
			msg = reqErr.HTTPStatus
		}
		return reqErr.HTTPStatusCode, msg
	}
	return 0, ""
}

// ProviderError is an error status answered by the provider.
type ProviderError struct {
	Agent      string
	StatusCode int
	Message    string
	hint       string
	err        error
}

func (e *ProviderError) Error() string {
	s := fmt.Sprintf("llm %s: %d from provider: %s", e.Agent, e.StatusCode, e.Message)
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

// Unwrap returns go-openai's error.
func (e *ProviderError) Unwrap() error { return e.err }

func (c *Client) wrapError(agent string, err error) error {
	status, msg := providerStatus(err)
	if status == 0 {
		// Network errors, timeouts, cancellation: go-openai's text names
		// the URL, never the key.
		return fmt.Errorf("llm %s: %w", agent, err)
	}
	msg = clip(strings.TrimSpace(msg), 500)
	if k := c.cfg.APIKey; len(k) >= 4 {
		// Some providers echo the key they were given.
		msg = strings.ReplaceAll(msg, k, "[redacted]")
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	pe := &ProviderError{Agent: agent, StatusCode: status, Message: msg, err: err}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		pe.hint = fmt.Sprintf("check %s and that it may use model %q", EnvAPIKey, c.cfg.Model)
	case http.StatusNotFound:
		pe.hint = fmt.Sprintf("check %s and %s", EnvModel, EnvBaseURL)
	case http.StatusTooManyRequests:
		pe.hint = fmt.Sprintf("still rate limited after %d retries: raise the provider's limits or try later", c.cfg.MaxRetries)
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		if c.cfg.ResponseFormat == FormatJSONSchema || c.cfg.ResponseFormat == FormatJSONObject {
			pe.hint = fmt.Sprintf("if the server does not support response format %s, set %s to %s", c.cfg.ResponseFormat, EnvResponseFormat, FormatAuto)
		}
	}
	return pe
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ParseProposal parses a model's answer strictly: one JSON object, bare or
// in a single ```json fence, with no unknown fields, a non-empty summary
// and valid edits. Its errors say exactly what is wrong, so they can be
// quoted back to the model.
func ParseProposal(s string) (*Proposal, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return nil, errors.New("the answer is empty: answer with one JSON object")
	}
	if strings.HasPrefix(text, "```") {
		inner, err := unfence(text)
		if err != nil {
			return nil, err
		}
		text = inner
	}
	if !strings.HasPrefix(text, "{") {
		return nil, errors.New("the answer does not start with '{': answer with only the JSON object, no prose")
	}

	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var w wireProposal
	if err := dec.Decode(&w); err != nil {
		return nil, describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("there is text after the JSON object: answer with one JSON object only")
	}
	return w.proposal()
}

// unfence strips a single ``` or ```json fence around the whole answer.
func unfence(text string) (string, error) {
	nl := strings.IndexByte(text, '\n')
	if nl < 0 {
		return "", errors.New("the code fence has no body: answer with only the JSON object")
	}
	if lang := strings.TrimSpace(text[3:nl]); lang != "" && !strings.EqualFold(lang, "json") {
		return "", fmt.Errorf("the code fence is marked %q: answer with only the JSON object", clip(lang, 20))
	}
	body := strings.TrimSpace(text[nl+1:])
	if !strings.HasSuffix(body, "```") {
		return "", errors.New("the code fence is not closed, or text follows it: answer with only the JSON object")
	}
	return strings.TrimSpace(strings.TrimSuffix(body, "```")), nil
}

// wireProposal decodes a Proposal keeping track of missing fields.
type wireProposal struct {
	Edits       *[]wireEdit `json:"edits"`
	Summary     *string     `json:"summary"`
	Assumptions []string    `json:"assumptions"`
	Risks       []string    `json:"risks"`
}

type wireEdit struct {
	Path    *string `json:"path"`
	Action  *string `json:"action"`
	Content *string `json:"content"`
}

func (w wireProposal) proposal() (*Proposal, error) {
	var problems []string
	p := &Proposal{Edits: []Edit{}, Assumptions: w.Assumptions, Risks: w.Risks}
	if p.Assumptions == nil {
		p.Assumptions = []string{}
	}
	if p.Risks == nil {
		p.Risks = []string{}
	}
	if w.Summary == nil || strings.TrimSpace(*w.Summary) == "" {
		problems = append(problems, "summary is empty: say in a sentence what the edits do")
	} else {
		p.Summary = *w.Summary
	}
	if w.Edits == nil {
		problems = append(problems, "edits is missing: give an array of edits (empty if nothing needs to change)")
	} else {
		seen := map[string]int{}
		for i, we := range *w.Edits {
			e := Edit{}
			if we.Path != nil {
				e.Path = *we.Path
			}
			if we.Action != nil {
				e.Action = *we.Action
			}
			if we.Content != nil {
				e.Content = *we.Content
			}
			if msg := checkPath(e.Path); msg != "" {
				problems = append(problems, fmt.Sprintf("edits[%d].path %q: %s", i, e.Path, msg))
			} else if j, dup := seen[e.Path]; dup {
				problems = append(problems, fmt.Sprintf("edits[%d].path %q repeats edits[%d]: give one edit per path", i, e.Path, j))
			} else {
				seen[e.Path] = i
			}
			switch e.Action {
			case ActionCreate, ActionReplace:
				if e.Content == "" {
					problems = append(problems, fmt.Sprintf("edits[%d].content is empty: give the whole file for %s", i, e.Action))
				}
			case ActionDelete:
				if e.Content != "" {
					problems = append(problems, fmt.Sprintf("edits[%d].content must be empty for delete", i))
				}
			default:
				problems = append(problems, fmt.Sprintf("edits[%d].action %q: use create, replace or delete", i, e.Action))
			}
			p.Edits = append(p.Edits, e)
		}
	}
	if len(problems) > 0 {
		const shown = 10
		if len(problems) > shown {
			problems = append(problems[:shown], fmt.Sprintf("and %d more problems", len(problems)-shown))
		}
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return p, nil
}

// checkPath says what is wrong with an edit's path, or "".
func checkPath(p string) string {
	switch {
	case p == "":
		return "is empty: give the file path relative to the repository root"
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains control characters"
	case strings.Contains(p, `\`):
		return "use forward slashes"
	case strings.HasPrefix(p, "/"):
		return "must be relative to the repository root"
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "must not contain '..'"
		}
	}
	if clean := path.Clean(p); clean == "." {
		return "must name a file"
	} else if clean != p {
		return fmt.Sprintf("is not clean: use %q", clean)
	}
	return ""
}

// describeJSONError turns a decoding error into a sentence for the model.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("the answer is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the answer"
		}
		return fmt.Errorf("%s must be a JSON %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("the JSON object is cut off: answer with the complete object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%s: use only edits, summary, assumptions and risks, and path, action and content in an edit",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	return fmt.Errorf("the answer is not a valid proposal: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "string":
		return "string"
	}
	return goKind
}

// bodyFieldsKey carries extra top-level JSON fields for the request body.
type bodyFieldsKey struct{}

func withBodyFields(ctx context.Context, fields map[string]json.RawMessage) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	return context.WithValue(ctx, bodyFieldsKey{}, fields)
}

// maxAnswerBytes bounds an answer read into memory.
const maxAnswerBytes = 32 << 20

// retryBase is the first backoff; it doubles with each retry.
const retryBase = 500 * time.Millisecond

// errAnswerTooLarge is not retried.
var errAnswerTooLarge = fmt.Errorf("the provider's answer is larger than %d MiB", maxAnswerBytes>>20)

// retryTransport retries a request on 408, 409, 429, 5xx and network
// errors with exponential backoff and jitter, honouring Retry-After, and
// bounds each attempt (reading the answer included) by timeout. It reads
// every answer into memory, so the body it returns cannot fail.
type retryTransport struct {
	base       http.RoundTripper
	timeout    time.Duration
	maxRetries int
	maxBackoff time.Duration
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a random duration in [0, d]; nil uses math/rand.
	jitter func(d time.Duration) time.Duration
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	if fields, ok := req.Context().Value(bodyFieldsKey{}).(map[string]json.RawMessage); ok {
		b, err := mergeFields(body, fields)
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		resp, err := t.attempt(req, body)
		if ctx.Err() != nil {
			if err == nil {
				return resp, nil
			}
			return nil, err
		}
		retry := false
		var wait time.Duration
		if err != nil {
			retry = retryableNetError(err)
			wait = t.backoff(attempt)
		} else if retryableStatus(resp.StatusCode) {
			retry = true
			if d, ok := retryAfter(resp.Header, time.Now()); ok {
				wait = d
			} else {
				wait = t.backoff(attempt)
			}
		}
		if !retry || attempt >= t.maxRetries {
			return resp, err
		}
		if t.maxBackoff > 0 && wait > t.maxBackoff {
			wait = t.maxBackoff
		}
		if serr := t.sleep(ctx, wait); serr != nil {
			return nil, serr
		}
	}
}

// attempt sends one copy of req and reads the whole answer within the
// attempt's timeout.
func (t *retryTransport) attempt(req *http.Request, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	defer cancel()
	r := req.Clone(ctx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(data) > maxAnswerBytes {
		return nil, errAnswerTooLarge
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// backoff is the wait before retry attempt+1: 500ms doubled per attempt,
// the upper half of it jittered, capped at maxBackoff.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := retryBase << min(attempt, 20)
	if t.maxBackoff > 0 && d > t.maxBackoff {
		d = t.maxBackoff
	}
	j := t.jitter
	if j == nil {
		j = func(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d) + 1)) }
	}
	return d/2 + j(d/2)
}

func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

// retryableNetError reports errors another attempt may not repeat: not a
// bad certificate, an unknown host or an oversized answer.
func retryableNetError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errAnswerTooLarge),
		errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	}
	return true
}

// retryAfter reads Retry-After (seconds or an HTTP date) or OpenAI's
// retry-after-ms.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<30)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// mergeFields sets top-level fields of a JSON object body.
func mergeFields(body []byte, fields map[string]json.RawMessage) ([]byte, error) {
	obj := map[string]json.RawMessage{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("request body is not a JSON object: %w", err)
		}
	}
	for k, v := range fields {
		obj[k] = v
	}
	return json.Marshal(obj)
}
