// For test/node/cli/s3.test.ts: makes @aws-sdk/* unresolvable in the CLI child (`--import` this
// file), as on an install without the optional dependencies.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@aws-sdk/')) {
    const error = new Error("Cannot find package '" + specifier + "'");
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`),
);
