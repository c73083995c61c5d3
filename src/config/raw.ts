// The config as YAML gives it, typed from the one JSON Schema: a field added to schema.ts appears here
// without a second declaration to keep in step.
import { configSchema } from './schema';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The value type a (subset of) JSON Schema describes: what haip's schema uses, nothing more. */
export type FromSchema<S> = S extends { anyOf: readonly (infer A)[] }
  ? FromSchema<A>
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'integer' | 'number' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'array'; items: infer I }
            ? FromSchema<I>[]
            : S extends { type: 'object'; properties: infer P }
              ? ObjectOf<P, S extends { required: readonly (infer R)[] } ? R : never>
              : S extends { type: 'object'; additionalProperties: infer A }
                ? Record<string, FromSchema<A>>
                : unknown;

type ObjectOf<P, R> = Writable<
  { [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> } & { [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]> }
>;

export type RawConfig = FromSchema<typeof configSchema> & {
  toggle?: string; // legacy command line only; not in the schema
};
export type RawLink = RawConfig['links'][number];
export type RawProbe = NonNullable<RawConfig['probe']>;
export type RawRule = NonNullable<RawConfig['rules']>[number];
