import { Nexmark, nexmarkRecord } from './dist/bench/lib/nexmark.js';
import { RecordMapper } from './dist/analytics/mapping.js';
import { DuckDBInstance, DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
const COLUMNS = [
  { name: 'EVENT_TYPE', sqlType: 'INTEGER', mapping: '$.event_type' },
  { name: 'DATETIME', sqlType: 'TIMESTAMP', mapping: '$.dateTime' },
  { name: 'AUCTION', sqlType: 'BIGINT', mapping: '$.bid.auction' },
  { name: 'BIDDER', sqlType: 'BIGINT', mapping: '$.bid.bidder' },
  { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.bid.price' },
  { name: 'CHANNEL', sqlType: 'VARCHAR(16)', mapping: '$.bid.channel' },
  { name: 'URL', sqlType: 'VARCHAR(128)', mapping: '$.bid.url' },
  { name: 'EXTRA', sqlType: 'VARCHAR(64)', mapping: '$.bid.extra' },
];
const g = new Nexmark(42, Date.UTC(2026,0,1), 150000, 1000);
const N=300000; const bufs=[]; for(let i=0;i<N;i++) bufs.push(Buffer.from(nexmarkRecord(g.next()).json));
console.log('avg bytes', bufs.reduce((a,b)=>a+b.length,0)/N);
const m = new RecordMapper({type:'JSON', rowPath:'$'}, COLUMNS);
const time=(name,f)=>{ for(let k=0;k<3;k++){const t=process.hrtime.bigint(); const c0=process.cpuUsage(); f(); const dt=Number(process.hrtime.bigint()-t)/1e6; const cu=process.cpuUsage(c0); console.log(name, (dt*1000/N).toFixed(3),'µs/rec wall', ((cu.user+cu.system)/N).toFixed(3),'µs/rec cpu');}};
time('toString', ()=>{let s=0; for(const b of bufs) s+=b.toString('utf8').length;});
time('JSON.parse', ()=>{let s=0; for(const b of bufs) s+=JSON.parse(b.toString('utf8')).event_type;});
time('map', ()=>{let s=0; for(const b of bufs) s+=m.map(b).rows.length;});
// duckdb json
const inst=await DuckDBInstance.create(':memory:',{threads:'1'}); const c=await inst.connect();
await c.run('CREATE TABLE j (s VARCHAR)');
for(let k=0;k<3;k++){
 const c0=process.cpuUsage(); const t=performance.now();
 await c.run('DELETE FROM j');
 const a=await c.createAppender('j');
 for(let from=0;from<N;from+=2048){ const n=Math.min(2048,N-from); const ch=DuckDBDataChunk.create([VARCHAR],n); const v=ch.getColumnVector(0); for(let r=0;r<n;r++) v.setItem(r, bufs[from+r].toString('utf8')); v.flush(); a.appendDataChunk(ch);} a.flushSync(); a.closeSync();
 const t1=performance.now(); const cu1=process.cpuUsage(c0);
 const r=await c.runAndReadAll(`SELECT count(*), sum(b), sum(p) FROM (SELECT (s->>'$.event_type')::INTEGER e, (s->>'$.bid.bidder')::BIGINT b, (s->>'$.bid.price')::DOUBLE p, (s->>'$.dateTime')::TIMESTAMP d, s->>'$.bid.url' u FROM j) WHERE e=2`);
 const cu=process.cpuUsage(c0);
 console.log('duck append', ((t1-t)*1000/N).toFixed(3), 'cpu',((cu1.user+cu1.system)/N).toFixed(3), 'duck total wall', ((performance.now()-t)*1000/N).toFixed(3),'cpu', ((cu.user+cu.system)/N).toFixed(3), r.getRows()[0]);
}
