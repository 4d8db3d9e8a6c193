// fence_haoscar_delay: the split-brain delay, only when the peer still answers (pseudo fence device).
// Everything lives in src/fence/delay.ts; this file only starts it.
import { main } from '../src/fence/agent.js';
import { delayAgent } from '../src/fence/delay.js';

main(delayAgent);
