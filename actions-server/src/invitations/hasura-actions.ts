// Invitations' Hasura actions (registered in hasura/actions.ts).
import { z } from 'zod';
import { AppError } from '../core/errors.ts';
import { actorOf, defineAction, outputOf, requirePersonMember, withoutNulls, type HasuraAction } from '../hasura/action.ts';
import type {
  AcceptInvitationOutput,
  InvitationInfo,
  InviteMemberOutput,
  MutationAcceptInvitationArgs,
  MutationInviteMemberArgs,
  MutationRevokeInvitationArgs,
} from '../hasura/generated/actions.ts';
import { acceptInputSchema, inviteInputSchema, revokeInputSchema } from './schemas.ts';
import { acceptInvitation, inviteMember, revokeInvitation } from './service.ts';

const inviteArgs = z.preprocess(withoutNulls, inviteInputSchema) satisfies z.ZodType<MutationInviteMemberArgs, unknown>;
const acceptArgs = z.preprocess(withoutNulls, acceptInputSchema) satisfies z.ZodType<MutationAcceptInvitationArgs, unknown>;
const revokeArgs = revokeInputSchema satisfies z.ZodType<MutationRevokeInvitationArgs, unknown>;

const invitationInfo = outputOf<InvitationInfo>({
  id: true,
  tenantId: true,
  email: true,
  role: true,
  status: true,
  invitedBy: true,
  expiresAt: true,
  acceptedAt: true,
  acceptedBy: true,
  revokedAt: true,
  createdAt: true,
});

export const INVITATION_ACTIONS: readonly HasuraAction[] = [
  defineAction('inviteMember', inviteArgs, async (ctx, args, session) => {
    const { invitation, token } = await inviteMember(ctx, await requirePersonMember(ctx, session, 'admin'), args);
    return { invitation: invitationInfo(invitation), token } satisfies InviteMemberOutput;
  }),
  defineAction('acceptInvitation', acceptArgs, async (ctx, args, session) => {
    // The tenant is the address the invitation is being accepted on (anonymous sessions carry it).
    if (!session.tenantId) throw new AppError('TENANT_NOT_FOUND', "Accept the invitation on the tenant's address");
    // An API key is not a person: it cannot accept for anyone.
    const userId = session.apiKeyId ? undefined : session.userId;
    return (await acceptInvitation(
      ctx,
      { ...actorOf(session), tenantId: session.tenantId, userId },
      args,
    )) satisfies AcceptInvitationOutput;
  }),
  defineAction('revokeInvitation', revokeArgs, async (ctx, args, session) => {
    const { invitation } = await revokeInvitation(ctx, await requirePersonMember(ctx, session, 'admin'), args);
    return invitationInfo(invitation) satisfies InvitationInfo;
  }),
];
