package wsd

import (
	"errors"
	"fmt"
)

// CloseError is the error of Read and the other blocking calls once the
// connection has closed: the close code and reason, as OnClose has them.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wsd: connection closed (%d): %s", e.Code, e.Reason)
}

// CloseStatus returns the close code of err if it is or wraps a
// *CloseError, and -1 otherwise.
func CloseStatus(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
