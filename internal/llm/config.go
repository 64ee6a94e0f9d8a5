package llm

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
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
