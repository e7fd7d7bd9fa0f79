-- Model prices as a table, for the cost step of the bulk OTLP insert (embedded store only;
-- the cost processor creates it there before its first bulk insert): one row per price
-- period. The processor writes its whole table (shipped prices, imported file, config
-- overrides) under table_id, a hash of its rows, before a bulk insert needs it. A span is
-- priced by the row of its provider and price key whose [effective_from, effective_to)
-- holds the span's start day (the first period of a model starts at 1900-01-01: a span older
-- than every price gets the earliest one; effective_to is exclusive). Rates are USD per 1M tokens.
CREATE TABLE IF NOT EXISTS {database}.model_prices
(
    table_id            String,
    provider            LowCardinality(String),
    model               String,
    provider_rank       UInt32,
    effective_from      Date32,
    effective_to        Date32,
    input               Decimal(38, 18),
    output              Decimal(38, 18),
    cache_read          Decimal(38, 18),
    cache_write         Decimal(38, 18),
    long_threshold      Nullable(Int64),
    long_input          Nullable(Decimal(38, 18)),
    long_output         Nullable(Decimal(38, 18)),
    long_cache_read     Nullable(Decimal(38, 18)),
    long_cache_write    Nullable(Decimal(38, 18))
)
ENGINE = ReplacingMergeTree
ORDER BY (table_id, provider, model, effective_from);

-- The same rows as a range dictionary: the bulk insert looks prices up by
-- (table_id, 'provider\0model') and the span's start day.
CREATE DICTIONARY IF NOT EXISTS {database}.model_prices_dict
(
    table_id            String,
    price_key           String,
    first_day           Date32,
    last_day            Date32,
    input               Decimal(38, 18),
    output              Decimal(38, 18),
    cache_read          Decimal(38, 18),
    cache_write         Decimal(38, 18),
    long_threshold      Nullable(Int64),
    long_input          Nullable(Decimal(38, 18)),
    long_output         Nullable(Decimal(38, 18)),
    long_cache_read     Nullable(Decimal(38, 18)),
    long_cache_write    Nullable(Decimal(38, 18))
)
PRIMARY KEY table_id, price_key
SOURCE(CLICKHOUSE(QUERY 'SELECT table_id, concat(provider, char(0), model) AS price_key, effective_from AS first_day, effective_to - 1 AS last_day, input, output, cache_read, cache_write, long_threshold, long_input, long_output, long_cache_read, long_cache_write FROM {database}.model_prices FINAL'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_RANGE_HASHED())
RANGE(MIN first_day MAX last_day)
