// Package arch holds tests of the architecture's rules: the domain packages
// import no transport or storage package, and every package says what it is
// in a package doc comment. It has no code of its own.
package arch
