// Package check tests what deploy/ ships to operators.
package check
