package server

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// uuidLen is the length of a UUID's text form.
const uuidLen = 36

// appendUUID appends u's text form, as u.String() writes it
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lower case), to b: uuid has no
// append form, and String costs an allocation of its own.
func appendUUID(b []byte, u uuid.UUID) []byte {
	b = hex.AppendEncode(b, u[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, u[10:])
}
