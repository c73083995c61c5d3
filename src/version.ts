// haip's version: package.json's, the one source (debian/changelog is checked against it by a unit test).
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../../package.json') as { version: string }).version;
