/**
 * The proxy's shorthands for the AWS-style errors it answers most (the type itself, its wire form
 * and the content type live in src/edge/aws).
 */
import { AwsError } from '../aws/errors.js';


export const accessDenied = (message: string, reason?: string) =>
  new AwsError('AccessDeniedException', message, 400, reason === undefined ? {} : { reason });
export const validation = (message: string) => new AwsError('ValidationException', message, 400);
export const serialization = (message: string) => new AwsError('SerializationException', message, 400);
