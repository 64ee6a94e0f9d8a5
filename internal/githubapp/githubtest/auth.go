package githubtest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) createToken(c *call) reply {
	id, err := strconv.ParseInt(c.params["installation_id"], 10, 64)
	if err != nil {
		return notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	account, ok := s.installations[id]
	if !ok {
		return notFound()
	}
	m := s.newTokenLocked(id, account)
	return reply{status: http.StatusCreated, body: map[string]any{
		"token":      m.value,
		"expires_at": m.expires.UTC().Format(time.RFC3339),
		"permissions": map[string]any{
			"checks": "write", "contents": "write", "issues": "write", "metadata": "read",
			"pull_requests": "write", "members": "read",
		},
		"repository_selection": "all",
	}}
}

// verifyJWT checks an App JWT as GitHub does: RS256 signed by the App's key,
// iss the App ID, issued in the past and expiring in the next ten minutes.
func (s *Server) verifyJWT(jwt string, now time.Time) error {
	if s.app.PublicKey == nil {
		return errors.New("A JSON web token could not be decoded: no App is configured on this fake (githubtest.WithApp)")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("A JSON web token could not be decoded")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *json.Number    `json:"iat"`
		Exp *json.Number    `json:"exp"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	if hdr.Alg != "RS256" {
		return fmt.Errorf("'alg' must be RS256, got %q", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.app.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("A JSON web token could not be decoded: the signature does not match the App's public key")
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	iss := strings.Trim(string(claims.Iss), `"`)
	if iss != strconv.FormatInt(s.app.ID, 10) {
		return fmt.Errorf("'Issuer' claim ('iss') must be the App ID %d, got %s", s.app.ID, claims.Iss)
	}
	if claims.Exp == nil || claims.Iat == nil {
		return errors.New("'Expiration time' claim ('exp') and 'Issued at' claim ('iat') are required")
	}
	exp, err1 := claims.Exp.Int64()
	iat, err2 := claims.Iat.Int64()
	if err1 != nil || err2 != nil {
		return errors.New("'exp' and 'iat' must be integers")
	}
	switch {
	case time.Unix(exp, 0).Before(now):
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case time.Unix(exp, 0).After(now.Add(10*time.Minute + 30*time.Second)):
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	case time.Unix(iat, 0).After(now.Add(time.Minute)):
		return errors.New("'Issued at' claim ('iat') must be an Integer representing a time in the past")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}
