// The version has one source: package.json (the package build copies it to /usr/lib/haip, and
// debian/changelog is checked against it by a unit test). `haip version`, status.json, `haip status`
// and haip_build_info all read it from here.

export const VERSION: string = String((require('../../package.json') as { version: unknown }).version);
