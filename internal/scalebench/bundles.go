package scalebench

import (
	"fmt"
	"strings"
)

// Subjects is how many users the requests of the JWT and policy axes
// rotate over (user-0 … user-999): enough distinct inputs that a decision
// cache is exercised, few enough that it holds them all.
const Subjects = 1000

// Issuer and IssuerSecret are the name and HS256 secret of issuer i of the
// JWT-issuers axis.
func Issuer(i int) string       { return fmt.Sprintf("https://issuer-%d.example", i) }
func IssuerSecret(i int) string { return fmt.Sprintf("secret-of-issuer-%d-0123456789abcdef", i) }

// Audience is the audience of every token of the JWT and policy axes.
const Audience = "api"

// RulesRego is the body (after the package line of portcullis.authz) of
// the policy-rules axis: n rules, n-1 of them indexable equalities on
// other routes that never match, and the last allowing GET on the route
// named users. decision is {"allow": allow}.
func RulesRego(n int) string {
	var s strings.Builder
	s.WriteString("default allow := false\n\ndecision := {\"allow\": allow}\n\n")
	for i := range n - 1 {
		fmt.Fprintf(&s, "allow if {\n\tinput.route.name == \"route-%d\"\n\tinput.request.method == \"DELETE\"\n}\n\n", i)
	}
	s.WriteString("allow if {\n\tinput.route.name == \"users\"\n\tinput.request.method == \"GET\"\n}\n")
	return s.String()
}

// DataRego is the body (after the package line of portcullis.authz) of
// the bundle-data axis: the subject is looked up in the users of
// BundleData and must be a reader.
const DataRego = `default decision := {"allow": false}

decision := {"allow": true} if {
	user := data.portcullis.users[input.identity.subject]
	user.roles[_] == "reader"
}
`

// BundleData returns the data.json of the bundle-data axis, at least size
// bytes: users user-0 … of the portcullis root, each about 150 bytes of
// JSON, at least Subjects of them, every one a reader.
func BundleData(size int) string {
	var s strings.Builder
	s.Grow(size + 256)
	s.WriteString(`{"portcullis": {"users": {`)
	for i := 0; s.Len() < size || i < Subjects; i++ {
		if i > 0 {
			s.WriteString(",\n")
		}
		fmt.Fprintf(&s, `"user-%d": {"tenant": "tenant-%d", "roles": ["reader", "writer-%d"], "note": "a user of the bundle-data axis, number %08d"}`, i, i%97, i%13, i)
	}
	s.WriteString("}}}\n")
	return s.String()
}
