// ha-oscar lab: placeholder until its issue lands.
export async function main(_argv: string[]): Promise<number> {
  console.error('ha-oscar lab: not implemented yet');
  return 1;
}
