// The part of node-ping (npm `ping`, 0.4) that haip uses.
declare module 'ping' {
  interface ProbeConfig {
    numeric?: boolean;
    timeout?: number;
    deadline?: number;
    min_reply?: number;
    extra?: string[];
  }
  interface ProbeResponse {
    host: string;
    alive: boolean;
    output: string;
    time: number | 'unknown';
  }
  const ping: { promise: { probe(addr: string, config?: ProbeConfig): Promise<ProbeResponse> } };
  export default ping;
}
