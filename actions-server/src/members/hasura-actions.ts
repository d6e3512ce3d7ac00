// Member management's Hasura actions (registered in hasura/actions.ts).
import { z } from 'zod';
import { defineAction, outputOf, requirePersonMember, requireReader, withoutNulls, type HasuraAction } from '../hasura/action.ts';
import type {
  MemberInfo,
  MembersPage,
  MutationChangeMemberRoleArgs,
  MutationRemoveMemberArgs,
  MutationTransferOwnershipArgs,
  QueryListMembersArgs,
  RemovedMember,
  TransferOwnershipOutput,
} from '../hasura/generated/actions.ts';
import { changeRoleInputSchema, identityInputSchema, listMembersInputSchema } from './schemas.ts';
import { changeRole, leaveTenant, listMembers, removeMember, transferOwnership } from './service.ts';

const listMembersArgs = z.preprocess(withoutNulls, listMembersInputSchema) satisfies z.ZodType<QueryListMembersArgs, unknown>;
const changeRoleArgs = changeRoleInputSchema satisfies z.ZodType<MutationChangeMemberRoleArgs, unknown>;
const identityArgs = identityInputSchema satisfies z.ZodType<MutationRemoveMemberArgs & MutationTransferOwnershipArgs, unknown>;
const noArgs = z.object({}).strict();

const memberInfo = outputOf<MemberInfo>({ identityId: true, email: true, name: true, role: true, emailVerified: true, joinedAt: true });

export const MEMBER_ACTIONS: readonly HasuraAction[] = [
  defineAction('listMembers', listMembersArgs, async (ctx, args, session) => {
    const page = await listMembers(ctx, await requireReader(ctx, session), args);
    return { members: page.members.map(memberInfo), nextCursor: page.nextCursor } satisfies MembersPage;
  }),
  defineAction('changeMemberRole', changeRoleArgs, async (ctx, args, session) => {
    const { member } = await changeRole(ctx, await requirePersonMember(ctx, session, 'owner'), args);
    return memberInfo(member) satisfies MemberInfo;
  }),
  defineAction('removeMember', identityArgs, async (ctx, args, session) => {
    return (await removeMember(ctx, await requirePersonMember(ctx, session, 'admin'), args)).removed satisfies RemovedMember;
  }),
  defineAction('leaveTenant', noArgs, async (ctx, _args, session) => {
    return (await leaveTenant(ctx, await requirePersonMember(ctx, session, 'member'))).removed satisfies RemovedMember;
  }),
  defineAction('transferOwnership', identityArgs, async (ctx, args, session) => {
    const result = await transferOwnership(ctx, await requirePersonMember(ctx, session, 'owner'), args);
    return { owner: memberInfo(result.owner), previousOwner: memberInfo(result.previousOwner) } satisfies TransferOwnershipOutput;
  }),
];
