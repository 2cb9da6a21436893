// Aggregate function names (DuckDB's and KDA's): a call to one makes a pump stateful.
export const AGGREGATES = new Set([
  'COUNT', 'SUM', 'MIN', 'MAX', 'AVG', 'APPROX_COUNT_DISTINCT', 'COUNT_DISTINCT', 'STDDEV', 'STDDEV_POP', 'STDDEV_SAMP',
  'VAR_POP', 'VAR_SAMP', 'VARIANCE', 'MEDIAN', 'MODE', 'QUANTILE', 'QUANTILE_CONT', 'QUANTILE_DISC', 'LISTAGG', 'STRING_AGG',
  'ARRAY_AGG', 'LIST', 'FIRST', 'LAST', 'ANY_VALUE', 'ARBITRARY', 'ARG_MAX', 'ARG_MIN', 'MAX_BY', 'MIN_BY', 'BOOL_AND', 'BOOL_OR',
  'BIT_AND', 'BIT_OR', 'BIT_XOR', 'PRODUCT', 'FSUM', 'KAHAN_SUM', 'HISTOGRAM', 'ENTROPY', 'KURTOSIS', 'SKEWNESS', 'CORR',
  'COVAR_POP', 'COVAR_SAMP', 'REGR_SLOPE', 'APPROX_QUANTILE', 'RESERVOIR_QUANTILE', 'GEOMEAN', 'AVG_DISTINCT',
  // KDA's (sql/kdaAggregates.ts): they read the window's rows in order, so they are stateful too.
  'FIRST_VALUE', 'LAST_VALUE', 'EXP_AVG',
]);
