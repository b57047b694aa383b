// A setting's command-line flag is its env name in kebab case (CB_OPEN_MS → --cb-open-ms);
// the dotted-key flag convict derives (--breaker-open-ms) stays accepted as an alias. The
// command line and the generated configuration reference both use this, so they agree.
export const envFlag = (env: string): string => env.toLowerCase().replace(/_/g, '-');
