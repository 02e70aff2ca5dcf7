package migrate

import "strings"

// Credential is a consumer's JWT credential as Kong's jwt_secrets and
// APISIX's consumer jwt-auth store it.
type Credential struct {
	// Gateway names the input gateway in the report ("Kong", "APISIX").
	Gateway  string
	Consumer string
	// Key is the credential key, which becomes the issuer a token names in iss.
	Key string
	Alg string
	// Secret is the HMAC secret (decoded), PEM the public key; SecretField
	// and PEMField are their input fields, for the report's lines.
	Secret, SecretField string
	PEM, PEMField       string
}

// AddCredential makes c an issuer of p whose tokens are c's consumer, or
// reports, with o's lines, why Portcullis would refuse it. It returns the
// new issuer (valid until the next append), or nil when c did not map.
func (p *Plan) AddCredential(o *Obj, what string, c Credential) *Issuer {
	if prev := p.Issuer(c.Key); prev != nil {
		p.Report.Add(o.File, o.LineOf("key"), what, NotMapped, "key %q is already the credential of consumer %s: Portcullis has one issuer per iss", c.Key, prev.Consumer)
		return nil
	}
	is := Issuer{Issuer: c.Key, Algorithms: []string{c.Alg}, Required: []string{"exp"}, Consumer: c.Consumer}
	switch {
	case strings.HasPrefix(c.Alg, "HS") && c.Secret == "":
		p.Report.Add(o.File, o.Line(), what, NotMapped, "%s credential without a secret", c.Alg)
		return nil
	case strings.HasPrefix(c.Alg, "HS") && len(c.Secret) < MinHMACSecretBytes:
		p.Report.Add(o.File, o.LineOf(c.SecretField), what, NotMapped, "the %s secret is shorter than %d bytes, which Portcullis refuses: issue a longer one", c.Alg, MinHMACSecretBytes)
		return nil
	case strings.HasPrefix(c.Alg, "HS"):
		is.SecretName, is.Secret = "jwt-"+c.Consumer+"-"+c.Key, c.Secret
	case !strings.Contains(c.PEM, "BEGIN PUBLIC KEY"):
		p.Report.Add(o.File, o.LineOf(c.PEMField), what, NotMapped, "%s credential without a PEM public key", c.Alg)
		return nil
	default:
		is.PublicKeys = []string{c.PEM}
		p.Report.Add(o.File, o.LineOf(c.PEMField), what+"."+c.PEMField, Partial, "%s ignored the token's kid; Portcullis takes a kid to name the key (a PEM key's is its RFC 7638 thumbprint): tokens must carry no kid or that one, or put the key into a JWK file with your identity provider's kid", c.Gateway)
	}
	p.Issuers = append(p.Issuers, is)
	cons := p.Consumer(c.Consumer)
	cons.Issuers = append(cons.Issuers, c.Key)
	p.Report.Add(o.File, o.Line(), what, Mapped, "authn.jwt issuer %s (%s, key file under keys/ or secret under secrets/); its tokens are consumer %s", c.Key, c.Alg, c.Consumer)
	return &p.Issuers[len(p.Issuers)-1]
}
