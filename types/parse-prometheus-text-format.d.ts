/** The part of parse-prometheus-text-format (it ships no types) that the tests use. */
declare module 'parse-prometheus-text-format' {
  interface Sample {
    /** Absent for histograms and summaries, which have count, sum and buckets instead. */
    value?: string;
    count?: string;
    sum?: string;
    buckets?: Record<string, string>;
    labels?: Record<string, string>;
  }
  interface Family {
    name: string;
    help: string;
    type: string;
    metrics: Sample[];
  }
  export default function parse(text: string): Family[];
}
