// Package validate holds the rules a plugin's manifest and results must
// follow, in one place: the host applies them when it starts a plugin (a
// run, config check, plugins ls|inspect|lock) and to every result it
// stores, and sdk/plugintest applies the very same functions, so a plugin
// that passes its harness tests passes the host.
//
// Manifest rules (Manifest): the protocol version is this SDK's; the name
// is 1..64 characters of [A-Za-z0-9_-] and, when the host knows the file,
// the file's name; the version is a semantic version without a leading v
// (Version) and, when the file name or plugins.lock gives one, that
// version; inputs and outputs are topics (package topic), outputs never a
// host topic; fields and labels are named once each; the attribute schema
// is well formed (Schema).
//
// Result rules (Results): every value is finite; a field name has 1..128
// bytes and, when the manifest declares fields, is one of them (upper-case
// words in a declared name are placeholders: N for a number, "faceN.score"
// declares "face12.score"; any other for a name without dots,
// "intent_NAME" declares "intent_greeting"); at most 1024 fields; objects
// have a box
// inside the frame, a declared label, a score in 0..1 and finite numbers;
// a published message is on one of the manifest's outputs with a JSON
// payload; an answer's payload is JSON.
//
// Attribute rules (Attributes): a stream's plugin block sets only declared
// attributes, each a valid value of its type within its range or choices,
// every required one; defaults fill in the rest.
package validate
