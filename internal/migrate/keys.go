package migrate

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
)

// AddKey stores key for consumer c as its hash; the cleartext goes no further.
func (c *Consumer) AddKey(id, key string) {
	c.Keys = append(c.Keys, Key{ID: id, Hash: apikey.Hash(key)})
}

// AddGroups adds groups to c, once each.
func (c *Consumer) AddGroups(groups ...string) {
	for _, g := range groups {
		if g != "" && !slices.Contains(c.Groups, g) {
			c.Groups = append(c.Groups, g)
		}
	}
}

// Issuer returns the issuer named iss, or nil.
func (p *Plan) Issuer(iss string) *Issuer {
	for i := range p.Issuers {
		if p.Issuers[i].Issuer == iss {
			return &p.Issuers[i]
		}
	}
	return nil
}

// BasicCredentials decodes an HTTP Basic Authorization value into a
// client id and secret (RFC 7617), as the introspection client sends them.
func BasicCredentials(v string) (id, secret string, ok bool) {
	scheme, enc, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(raw), ":")
	return id, secret, ok && id != ""
}

// UniqueName returns name, or name-2, name-3, ... when taken is true for it.
func UniqueName(name string, taken func(string) bool) string {
	if !taken(name) {
		return name
	}
	for i := 2; ; i++ {
		n := name + "-" + strconv.Itoa(i)
		if !taken(n) {
			return n
		}
	}
}

// MinHMACSecretBytes is the shortest HMAC secret gateway/config accepts
// (validate.go refuses shorter ones); an input secret below it is reported
// instead of written into a config that would not load.
const MinHMACSecretBytes = 32
