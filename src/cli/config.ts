// ha-oscar config: placeholder until its issue lands.
export async function main(_argv: string[]): Promise<number> {
  console.error('ha-oscar config: not implemented yet');
  return 1;
}
